// Copies every ```ts code block of docs/*.md and README.md into docs/.examples/ as its own
// module, so `tsc -b` type-checks the examples users read. A block that starts with
// `// @no-check` is prose-only (for instance a shell transcript mislabelled as ts).
import * as fs from "node:fs"
import * as path from "node:path"

const root = path.resolve(import.meta.dirname, "..")
const out = path.join(root, "docs", ".examples")
fs.rmSync(out, { recursive: true, force: true })
fs.mkdirSync(out, { recursive: true })

const sources = [
  path.join(root, "README.md"),
  ...fs.readdirSync(path.join(root, "docs")).filter((f) => f.endsWith(".md")).map((f) => path.join(root, "docs", f))
].filter((f) => fs.existsSync(f))

let count = 0
for (const file of sources) {
  const text = fs.readFileSync(file, "utf8")
  const base = path.basename(file, ".md")
  const blocks = [...text.matchAll(/^```(?:ts|typescript)\n([\s\S]*?)^```/gm)]
  blocks.forEach((match, index) => {
    const body = match[1] ?? ""
    if (body.startsWith("// @no-check")) return
    const line = text.slice(0, match.index).split("\n").length
    const name = `${base}.${String(index + 1).padStart(2, "0")}.ts`
    fs.writeFileSync(path.join(out, name), `// ${path.relative(root, file)}:${line}\nexport {}\n${body}`)
    count++
  })
}
// An empty program is still a valid project, so tsc -b has something to build.
if (count === 0) fs.writeFileSync(path.join(out, "empty.ts"), "export {}\n")
console.log(`[docs] extracted ${count} TypeScript examples from ${sources.length} files`)
