#!/usr/bin/env node
/**
 * The `berth-migrate` executable: `node --conditions=source --import tsx packages/migrate/src/bin.ts`
 * inside the monorepo, `berth-migrate` once built and installed.
 *
 * @since 0.1.0
 */
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Effect, Exit } from "effect"
import * as Cli from "./Cli.js"

NodeRuntime.runMain(
  Cli.run(process.argv.slice(2)).pipe(
    Effect.flatMap((code) => Effect.sync(() => void (process.exitCode = code))),
    Effect.provide(NodeContext.layer)
  ),
  {
    disableErrorReporting: true,
    disablePrettyLogger: true,
    // Success: the exit code is already in process.exitCode, and letting Node exit on its
    // own flushes piped stdout. Interrupted (Ctrl-C, SIGTERM): 130, after the lock was
    // released and the open transaction rolled back by the scopes that closed.
    teardown: (exit, onExit) => onExit(Exit.isSuccess(exit) ? 0 : 130)
  }
)
