package sdk

import "fmt"

// Level is an MCP log level, in syslog order.
type Level int32

const (
	LevelDebug Level = iota
	LevelInfo
	LevelNotice
	LevelWarning
	LevelError
	LevelCritical
	LevelAlert
	LevelEmergency
)

// Log sends a log message to the MCP client while the tool runs
// (notifications/message). The host caps each message at 4 KiB and a call
// at 1000 notifications. Outside moat (a native test run) it writes to
// stderr.
func Log(level Level, msg string) { hostLog(level, msg) }

// Logf is Log with formatting.
func Logf(level Level, format string, args ...any) { hostLog(level, fmt.Sprintf(format, args...)) }

// Progress reports progress to the MCP client (notifications/progress),
// which sees it only when it asked for progress on this call. total <= 0
// means the total is unknown.
func Progress(progress, total float64, msg string) { hostProgress(progress, total, msg) }
