import type { Contender } from "../../Contender.js"
import { forDuration } from "../../internal/drive.js"
import * as Wire from "../../internal/wire.js"

const contender: Contender = {
  description: "JavaScript limit: raw socket startup + SCRAM (node:crypto), simple query, Terminate",
  kind: "limit",
  open: async (ctx) => {
    const options = Wire.optionsFromUrl(ctx.scramUrl)
    const selectOne = Wire.query("select 1")
    return {
      run: async (phase) => ({
        ops: await forDuration(ctx.params.concurrency, phase.durationMs, async () => {
          const conn = await Wire.connect(options)
          await new Promise<void>((resolve, reject) => {
            let error: string | undefined
            conn.onMessage((type, buf, start, end) => {
              if (type === Wire.Backend.ErrorResponse) error = Wire.errorText(buf, start, end)
              else if (type === Wire.Backend.ReadyForQuery) {
                if (error === undefined) resolve()
                else reject(new Error(error))
              }
            })
            conn.socket.write(selectOne)
          })
          await conn.close()
        })
      }),
      close: () => Promise.resolve()
    }
  }
}

export default contender
