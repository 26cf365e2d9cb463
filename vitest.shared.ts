import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { defineProject, type ViteUserConfig } from "vitest/config"

const root = path.dirname(fileURLToPath(import.meta.url))
const harness = (file: string) => path.join(root, "packages", "testing", "src", "vitest", file)

/** Options a package may set for its vitest project. */
export interface ProjectOptions {
  /** Whether the package's tests need the shared test database (default: true). */
  readonly database?: boolean
}

/**
 * The vitest project shared by every package: TypeScript sources resolved through the
 * `source` export condition (no build step before tests) and, unless turned off, the test
 * database harness: one PostgreSQL server per run, one fresh database per test file.
 */
export const project = (dirname: string, options: ProjectOptions = {}): ViteUserConfig => {
  const name = `@berth/${path.basename(dirname)}`
  const database = options.database ?? true
  return defineProject({
    resolve: { conditions: ["source"] },
    ssr: { resolve: { conditions: ["source"], externalConditions: ["source"] } },
    test: {
      name,
      root: dirname,
      include: ["test/**/*.test.ts"],
      globalSetup: database ? [harness("globalSetup.ts")] : [],
      setupFiles: database ? [harness("setupFile.ts")] : [],
      testTimeout: 60_000,
      hookTimeout: 120_000
    }
  })
}
