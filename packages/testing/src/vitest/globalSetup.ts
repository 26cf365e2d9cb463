/**
 * Vitest global setup: one PostgreSQL server for the whole run, shared by every project of
 * the workspace and released when the last project finishes.
 */
import type { TestProject } from "vitest/node"
import * as TestServer from "../TestServer.js"

interface Shared {
  server: Promise<TestServer.TestServer>
  users: number
}

const sharedKey = Symbol.for("@berth/testing/vitest/server")
const registry = globalThis as Record<symbol, Shared | undefined>

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const shared = registry[sharedKey] ??= { server: TestServer.start(), users: 0 }
  shared.users++
  const { stop: _stop, ...info } = await shared.server
  project.provide("berthServer", info)
  return async () => {
    shared.users--
    if (shared.users === 0) {
      registry[sharedKey] = undefined
      await (await shared.server).stop()
    }
  }
}
