import type { Contender } from "../../Contender.js"
import { expectRows } from "../../internal/drive.js"
import * as Wire from "../../internal/wire.js"
import { streamQuery } from "../../Workload.js"

const contender: Contender = {
  description: "JavaScript limit: raw socket, one Execute for all rows, DataRows counted, never decoded",
  kind: "limit",
  open: async (ctx) => {
    const conn = await Wire.connect(ctx)
    return {
      run: (phase) =>
        new Promise((resolve, reject) => {
          let rows = 0
          let error: string | undefined
          conn.onMessage((type, buf, start, end) => {
            if (type === Wire.Backend.DataRow) rows++
            else if (type === Wire.Backend.ErrorResponse) error = Wire.errorText(buf, start, end)
            else if (type === Wire.Backend.ReadyForQuery) {
              if (error !== undefined) reject(new Error(error))
              else {
                try {
                  resolve({ ops: expectRows(rows, phase.rows) })
                } catch (e) {
                  reject(e)
                }
              }
            }
          })
          conn.socket.write(Buffer.concat([
            Wire.parse("", `${streamQuery} limit $1`),
            Wire.bind("", "", [String(phase.rows)]),
            Wire.execute(""),
            Wire.sync
          ]))
        }),
      close: () => conn.close()
    }
  }
}

export default contender
