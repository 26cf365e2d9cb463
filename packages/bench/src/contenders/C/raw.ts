import type { Contender } from "../../Contender.js"
import { checker, payloads } from "../../internal/copy.js"
import { expectRows } from "../../internal/drive.js"
import * as Wire from "../../internal/wire.js"
import { copyTable } from "../../Workload.js"

const contender: Contender = {
  description: "JavaScript limit: raw socket, CopyData messages pre-encoded before the timer starts",
  kind: "limit",
  open: async (ctx) => {
    const payload = new Map(
      [...payloads(ctx)].map(([n, chunks]) => [n, Buffer.concat(chunks.map(Wire.copyData))] as const)
    )
    const check = await checker(ctx)
    const conn = await Wire.connect(ctx)
    return {
      reset: check.reset,
      run: (phase) =>
        new Promise((resolve, reject) => {
          const data = payload.get(phase.rows)
          if (data === undefined) return reject(new Error(`no payload for ${phase.rows} rows`))
          let error: string | undefined
          let copied = -1
          conn.onMessage((type, buf, start, end) => {
            if (type === Wire.Backend.CopyInResponse) {
              conn.socket.write(data)
              conn.socket.write(Wire.copyDone)
            } else if (type === Wire.Backend.CommandComplete) {
              copied = Number(/COPY (\d+)/.exec(buf.toString("latin1", start, end - 1))?.[1])
            } else if (type === Wire.Backend.ErrorResponse) error = Wire.errorText(buf, start, end)
            else if (type === Wire.Backend.ReadyForQuery) {
              if (error !== undefined) reject(new Error(error))
              else {
                try {
                  resolve({ ops: expectRows(copied, phase.rows) })
                } catch (e) {
                  reject(e)
                }
              }
            }
          })
          conn.socket.write(Wire.query(`copy ${copyTable} from stdin`))
        }),
      close: async () => {
        await conn.close()
        await check.close()
      }
    }
  }
}

export default contender
