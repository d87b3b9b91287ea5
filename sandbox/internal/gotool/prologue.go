package gotool

import (
	"sync"

	"github.com/racelab/racelab/sandbox"
)

// Begin does what every backend does first with a request: it checks it
// (an error wraps sandbox.ErrBadRequest), makes emit safe to call from
// several goroutines, and carries out the fmt mode, which needs no
// sandbox. When done is true the request has been answered in full.
func Begin(req *sandbox.Request, l sandbox.Limits, emit func(sandbox.Event)) (safe func(sandbox.Event), done bool, err error) {
	if err := req.Validate(l); err != nil {
		return nil, false, err
	}
	if mod, ok := req.Files["go.mod"]; ok {
		if err := CheckGoMod(mod); err != nil {
			return nil, false, err
		}
	}
	safe = Serialize(emit)
	if req.Mode == sandbox.ModeFmt {
		FormatRun(req, l, safe)
		return safe, true, nil
	}
	return safe, false, nil
}

// Serialize makes emit safe to call from several goroutines at once (the
// output pumps and the supervisor), one event at a time.
func Serialize(emit func(sandbox.Event)) func(sandbox.Event) {
	var mu sync.Mutex
	return func(e sandbox.Event) {
		mu.Lock()
		defer mu.Unlock()
		emit(e)
	}
}

// Canceled is the exit event of a request stopped before or between runs.
func Canceled(req *sandbox.Request, l sandbox.Limits) sandbox.Event {
	return sandbox.Event{Kind: sandbox.KindExit, Code: -1, Reason: sandbox.ReasonCanceled,
		Msg: Explain(sandbox.ReasonCanceled, -1, req.Mode, l)}
}
