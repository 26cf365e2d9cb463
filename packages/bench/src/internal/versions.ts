/**
 * Versions of the installed peers, for the report's descriptions.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const repoDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "..")

/** The version of a workspace dependency (hoisted to the repository's `node_modules`). */
export const version = (pkg: string): string => {
  try {
    const file = path.join(repoDir, "node_modules", pkg, "package.json")
    return (JSON.parse(fs.readFileSync(file, "utf8")) as { version: string }).version
  } catch {
    return "?"
  }
}
