package sandbox

import "github.com/moatmcp/moat/internal/abi"

// ReactorExport is the function a reactor module exports for each call
// (internal/abi owns the ABI's names).
const ReactorExport = abi.ReactorEntry
