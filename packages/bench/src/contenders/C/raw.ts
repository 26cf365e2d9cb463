import type { Contender } from "../../Contender.js"
import { checker, payloads } from "../../internal/copy.js"
import { expectRows } from "../../internal/drive.js"
import * as Wire from "../../internal/wire.js"
import { copyTable } from "../../Workload.js"

const contender: Contender = {
  description: "JavaScript limit: raw socket, CopyData messages pre-encoded before the timer starts, ~1 MB writes",
  kind: "limit",
  open: async (ctx) => {
    // ~1 MB writes: one huge write makes Node buffer the whole payload (and the peak RSS) while
    // the kernel drains it; many tiny ones cost a syscall each.
    const payload = new Map(
      [...payloads(ctx)].map(([n, chunks]) => {
        const frames = chunks.map(Wire.copyData)
        const batches: Array<Buffer> = []
        for (let i = 0; i < frames.length; i += 12) batches.push(Buffer.concat(frames.slice(i, i + 12)))
        return [n, batches] as const
      })
    )
    const check = await checker(ctx)
    const conn = await Wire.connect(ctx)
    return {
      reset: check.reset,
      run: (phase) =>
        new Promise((resolve, reject) => {
          // Writes the batches as fast as the socket drains them, then CopyDone.
          const send = async (batches: ReadonlyArray<Buffer>): Promise<void> => {
            for (const batch of batches) {
              if (!conn.socket.write(batch)) await new Promise((drained) => conn.socket.once("drain", drained))
            }
            conn.socket.write(Wire.copyDone)
          }
          const data = payload.get(phase.rows)
          if (data === undefined) return reject(new Error(`no payload for ${phase.rows} rows`))
          let error: string | undefined
          let copied = -1
          conn.onMessage((type, buf, start, end) => {
            if (type === Wire.Backend.CopyInResponse) {
              void send(data).catch(reject)
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
