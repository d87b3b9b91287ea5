package sandbox

import (
	"flag"
	"fmt"
	"time"
)

// The default limits. Each is a field of Limits and a flag of the racelab
// commands that run code (see Limits.RegisterFlags).
const (
	DefaultBuildTimeout   = 30 * time.Second
	DefaultRunTimeout     = 10 * time.Second
	DefaultRequestTimeout = 30 * time.Second // all the runs of one request: a lesson's repeat=20 cell takes a few seconds
	DefaultKillGrace      = 1 * time.Second  // between SIGQUIT and SIGKILL on a timeout
	DefaultMemoryBytes    = 512 << 20
	DefaultRaceMemory     = 1 << 30 // race and test modes: the race runtime needs shadow memory
	DefaultPids           = 256
	DefaultCPUs           = 1.0
	DefaultBuildCPUs      = 0 // 0: every core of the machine
	DefaultOutputBytes    = 1 << 20
	DefaultAsmOutputBytes = 4 << 20
	DefaultTmpBytes       = 256 << 20 // each writable tmpfs: /tmp, the work dir, the cache layer
	DefaultMaxFiles       = 20
	DefaultMaxSourceBytes = 64 << 10
	DefaultMaxRepeat      = 100
	DefaultMaxGOMAXPROCS  = 64

	// The limits of a traced run (Request.Trace, issue #16): what the
	// program's tracer may write, and what racelab spends reading it.
	// A lesson program's trace is a few KB and parses in milliseconds.
	DefaultTraceBytes        = 4 << 20
	DefaultTraceTime         = 2 * time.Second
	DefaultTraceParseMemory  = 512 << 20
	DefaultTraceParseTimeout = 5 * time.Second
	DefaultTraceEvents       = 200000
	DefaultTraceSpans        = 4000
)

// Limits bounds every run. Exceeding one ends that run with a clear
// exit reason, and nothing else.
type Limits struct {
	BuildTimeout   time.Duration // wall time for go build / go vet / the compile step of go test
	RunTimeout     time.Duration // wall time for one execution of the program
	RequestTimeout time.Duration // wall time for all executions of one request together (its repeats)
	KillGrace      time.Duration // after SIGQUIT on a timeout, before SIGKILL
	MemoryBytes    int64         // memory of one container (run, asm, bench, vet)
	RaceMemory     int64         // memory of one container in the race and test modes
	Pids           int64         // processes and threads of one container
	CPUs           float64       // CPU cores one running program may use
	BuildCPUs      float64       // CPU cores the build step may use; 0 means every core
	OutputBytes    int64         // stdout+stderr bytes of one run
	AsmOutputBytes int64         // compiler output bytes in the asm mode
	TmpBytes       int64         // size of each writable tmpfs of a run
	MaxFiles       int           // files in one request
	MaxSourceBytes int           // bytes of all files of one request
	MaxRepeat      int           // the largest repeat
	MaxGOMAXPROCS  int           // the largest gomaxprocs

	TraceBytes        int64         // bytes of a traced run's execution trace; the tracer stops before
	TraceTime         time.Duration // how long a traced run's tracer records before it stops
	TraceParseMemory  int64         // memory of the process that parses a trace
	TraceParseTimeout time.Duration // wall time (and, rounded up to seconds, CPU time) of that process
	TraceEvents       int           // trace events parsed; the timeline is cut after them
	TraceSpans        int           // spans and edges of one timeline event; it is cut after them
}

// DefaultLimits returns the limits racelab uses unless told otherwise.
func DefaultLimits() Limits {
	return Limits{
		BuildTimeout:   DefaultBuildTimeout,
		RunTimeout:     DefaultRunTimeout,
		RequestTimeout: DefaultRequestTimeout,
		KillGrace:      DefaultKillGrace,
		MemoryBytes:    DefaultMemoryBytes,
		RaceMemory:     DefaultRaceMemory,
		Pids:           DefaultPids,
		CPUs:           DefaultCPUs,
		BuildCPUs:      DefaultBuildCPUs,
		OutputBytes:    DefaultOutputBytes,
		AsmOutputBytes: DefaultAsmOutputBytes,
		TmpBytes:       DefaultTmpBytes,
		MaxFiles:       DefaultMaxFiles,
		MaxSourceBytes: DefaultMaxSourceBytes,
		MaxRepeat:      DefaultMaxRepeat,
		MaxGOMAXPROCS:  DefaultMaxGOMAXPROCS,

		TraceBytes:        DefaultTraceBytes,
		TraceTime:         DefaultTraceTime,
		TraceParseMemory:  DefaultTraceParseMemory,
		TraceParseTimeout: DefaultTraceParseTimeout,
		TraceEvents:       DefaultTraceEvents,
		TraceSpans:        DefaultTraceSpans,
	}
}

// MemoryFor returns the memory limit of a container running mode m.
func (l Limits) MemoryFor(m Mode) int64 {
	if m == ModeRace || m == ModeTest {
		return l.RaceMemory
	}
	return l.MemoryBytes
}

// OutputFor returns the output cap of one run in mode m.
func (l Limits) OutputFor(m Mode) int64 {
	if m == ModeAsm {
		return l.AsmOutputBytes
	}
	return l.OutputBytes
}

// RegisterFlags adds one flag per limit to fs, each defaulting to the
// current value of the field it sets.
func (l *Limits) RegisterFlags(fs *flag.FlagSet) {
	fs.DurationVar(&l.BuildTimeout, "build-timeout", l.BuildTimeout, "wall-time `limit` of the build step")
	fs.DurationVar(&l.RunTimeout, "run-timeout", l.RunTimeout, "wall-time `limit` of one run of the program")
	fs.DurationVar(&l.RequestTimeout, "request-timeout", l.RequestTimeout, "wall-time `limit` of all the runs of one request together (its repeats)")
	fs.DurationVar(&l.KillGrace, "kill-grace", l.KillGrace, "`time` between SIGQUIT and SIGKILL when a run times out")
	fs.Int64Var(&l.MemoryBytes, "memory", l.MemoryBytes, "memory `bytes` of one container")
	fs.Int64Var(&l.RaceMemory, "race-memory", l.RaceMemory, "memory `bytes` of one container in the race and test modes")
	fs.Int64Var(&l.Pids, "pids", l.Pids, "processes and threads of one container")
	fs.Float64Var(&l.CPUs, "cpus", l.CPUs, "CPU `cores` one running program may use")
	fs.Float64Var(&l.BuildCPUs, "build-cpus", l.BuildCPUs, "CPU `cores` the build step may use (0: every core; builds are short bursts)")
	fs.Int64Var(&l.OutputBytes, "output-limit", l.OutputBytes, "output `bytes` of one run")
	fs.Int64Var(&l.AsmOutputBytes, "asm-output-limit", l.AsmOutputBytes, "output `bytes` of the asm mode")
	fs.Int64Var(&l.TmpBytes, "tmp-size", l.TmpBytes, "`bytes` of each writable tmpfs of a run")
	fs.IntVar(&l.MaxFiles, "max-files", l.MaxFiles, "files in one request")
	fs.IntVar(&l.MaxSourceBytes, "max-source", l.MaxSourceBytes, "source `bytes` of one request")
	fs.IntVar(&l.MaxRepeat, "max-repeat", l.MaxRepeat, "largest repeat count")
	fs.IntVar(&l.MaxGOMAXPROCS, "max-gomaxprocs", l.MaxGOMAXPROCS, "largest gomaxprocs a request may ask for")
	fs.Int64Var(&l.TraceBytes, "trace-bytes", l.TraceBytes, "execution-trace `bytes` of a traced run (the tracer stops before)")
	fs.DurationVar(&l.TraceTime, "trace-time", l.TraceTime, "`time` a traced run's tracer records before it stops")
	fs.Int64Var(&l.TraceParseMemory, "trace-parse-memory", l.TraceParseMemory, "memory `bytes` of the process that parses a trace")
	fs.DurationVar(&l.TraceParseTimeout, "trace-parse-timeout", l.TraceParseTimeout, "wall and CPU `time` of the process that parses a trace")
	fs.IntVar(&l.TraceEvents, "trace-events", l.TraceEvents, "trace `events` parsed before a timeline is cut")
	fs.IntVar(&l.TraceSpans, "trace-spans", l.TraceSpans, "spans and edges of one timeline before it is cut (bounds the event's size)")
}

// Check reports a limit that cannot work, naming its flag.
func (l Limits) Check() error {
	switch {
	case l.BuildTimeout <= 0:
		return fmt.Errorf("limits: -build-timeout must be positive, not %v", l.BuildTimeout)
	case l.RunTimeout <= 0:
		return fmt.Errorf("limits: -run-timeout must be positive, not %v", l.RunTimeout)
	case l.RequestTimeout < l.RunTimeout:
		return fmt.Errorf("limits: -request-timeout (%v) must be at least -run-timeout (%v): it bounds all the runs of a request together", l.RequestTimeout, l.RunTimeout)
	case l.KillGrace < 0:
		return fmt.Errorf("limits: -kill-grace must not be negative, not %v", l.KillGrace)
	case l.MemoryBytes < 64<<20 || l.RaceMemory < 64<<20:
		return fmt.Errorf("limits: -memory and -race-memory must be at least 64 MiB (67108864) for the Go toolchain to work")
	case l.Pids < 16:
		return fmt.Errorf("limits: -pids must be at least 16 for the Go toolchain to work, not %d", l.Pids)
	case l.CPUs < 0.01:
		return fmt.Errorf("limits: -cpus must be at least 0.01 (the kernel's smallest CPU quota), not %v", l.CPUs)
	case l.BuildCPUs != 0 && l.BuildCPUs < 0.01:
		return fmt.Errorf("limits: -build-cpus must be 0 (every core) or at least 0.01, not %v", l.BuildCPUs)
	case l.OutputBytes <= 0 || l.AsmOutputBytes <= 0:
		return fmt.Errorf("limits: -output-limit and -asm-output-limit must be positive")
	case l.TmpBytes < 16<<20:
		return fmt.Errorf("limits: -tmp-size must be at least 16 MiB (16777216), not %d", l.TmpBytes)
	case l.MaxFiles < 1 || l.MaxSourceBytes < 1 || l.MaxRepeat < 1 || l.MaxGOMAXPROCS < 1:
		return fmt.Errorf("limits: -max-files, -max-source, -max-repeat and -max-gomaxprocs must be at least 1")
	}
	return l.checkTrace()
}

// checkTrace reports a trace limit that cannot work.
func (l Limits) checkTrace() error {
	switch {
	case l.TraceBytes < 64<<10:
		return fmt.Errorf("limits: -trace-bytes must be at least 64 KiB (65536): the tracer writes in 64 KiB batches, not %d", l.TraceBytes)
	case l.TraceTime <= 0:
		return fmt.Errorf("limits: -trace-time must be positive, not %v", l.TraceTime)
	case l.TraceParseMemory < 64<<20:
		return fmt.Errorf("limits: -trace-parse-memory must be at least 64 MiB (67108864) for the Go runtime of the parser, not %d", l.TraceParseMemory)
	case l.TraceParseTimeout < 100*time.Millisecond:
		return fmt.Errorf("limits: -trace-parse-timeout must be at least 100ms, not %v", l.TraceParseTimeout)
	case l.TraceEvents < 100 || l.TraceSpans < 100:
		return fmt.Errorf("limits: -trace-events and -trace-spans must be at least 100")
	}
	return nil
}
