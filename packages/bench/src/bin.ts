/**
 * `npm run bench -- <workloads> [options]` (see `Cli.usage`).
 *
 * @since 0.1.0
 */
import { main } from "./Cli.js"

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : String(error))
    process.exit(1)
  }
)
