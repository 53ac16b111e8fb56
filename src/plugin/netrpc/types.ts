/**
 * The gob types net/rpc and go-plugin put on the wire (net/rpc server.go Request/Response,
 * go-plugin rpc_server.go controlServer/dispenseServer replies).
 */
import { GobTypes, type GobType } from '../gob/encoder.js'

/** net/rpc's reply header. */
export const ResponseType: GobType = {
  kind: 'struct',
  name: 'Response',
  fields: [
    { name: 'ServiceMethod', type: GobTypes.string },
    { name: 'Seq', type: GobTypes.uint },
    { name: 'Error', type: GobTypes.string },
  ],
}

/** struct{}: the reply of Control.Ping and Control.Quit, and the body of an error reply. */
export const EmptyStructType: GobType = { kind: 'struct', name: 'struct {}', fields: [] }
