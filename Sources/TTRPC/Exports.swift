// The status vocabulary (StatusCode, TTRPCError) lives in RPCStatus so that
// layers without sockets can choose their errors' status; users of the
// transport see it through this module.
@_exported import RPCStatus
