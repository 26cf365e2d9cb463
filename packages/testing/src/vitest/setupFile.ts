/**
 * Vitest setup file: gives each test file its own database, created before the file's
 * tests and dropped after them. `DATABASE_URL` points at it for code that reads config.
 */
import { afterAll, inject } from "vitest"
import * as TestDatabase from "../TestDatabase.js"

const database = await TestDatabase.create(inject("berthServer"))
TestDatabase.setCurrent(database)
process.env["DATABASE_URL"] = database.url

afterAll(() => database.drop())
