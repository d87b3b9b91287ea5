package lessons

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// An Edge is the value of an expect=edge= claim: in the run's timeline
// (trace=true), a goroutine's operation at line From unblocked another
// goroutine waiting at line To: "send@12->receive@8" (the send at line
// 12 handed its value to the receive waiting at line 8), or "12->8" when
// the operations do not matter. Lines are in the cell's files.
type Edge struct {
	FromOp   string // "" for any operation
	FromLine int
	ToOp     string
	ToLine   int
}

// edgeOps are the operations a timeline names, as edge= writes them.
var edgeOps = []string{"send", "receive", "close", "select", "Lock", "Unlock", "RLock", "RUnlock", "Wait", "Done", "Add", "Signal", "Broadcast"}

// ParseEdge parses the value of expect=edge=.
func ParseEdge(s string) (Edge, error) {
	from, to, ok := strings.Cut(s, "->")
	if !ok {
		return Edge{}, fmt.Errorf("write edge=[OP@]LINE->[OP@]LINE, as in edge=send@12->receive@8")
	}
	var e Edge
	var err error
	if e.FromOp, e.FromLine, err = edgeEnd(from); err != nil {
		return Edge{}, err
	}
	if e.ToOp, e.ToLine, err = edgeEnd(to); err != nil {
		return Edge{}, err
	}
	return e, nil
}

// edgeEnd parses one end of an edge: [OP@]LINE.
func edgeEnd(s string) (op string, line int, err error) {
	if i := strings.LastIndex(s, "@"); i >= 0 {
		op, s = s[:i], s[i+1:]
		if !slices.Contains(edgeOps, op) {
			return "", 0, fmt.Errorf("unknown operation %q in an edge (want one of %s)", op, strings.Join(edgeOps, ", "))
		}
	}
	line, err = strconv.Atoi(s)
	if err != nil || line < 1 {
		return "", 0, fmt.Errorf("%q is not a line number (from 1)", s)
	}
	return op, line, nil
}

// String writes the edge as expect=edge= takes it.
func (e Edge) String() string {
	end := func(op string, line int) string {
		if op == "" {
			return strconv.Itoa(line)
		}
		return op + "@" + strconv.Itoa(line)
	}
	return end(e.FromOp, e.FromLine) + "->" + end(e.ToOp, e.ToLine)
}

// Words says the edge for a learner: "the send at line 12 unblocks the
// receive at line 8".
func (e Edge) Words() string {
	end := func(op string, line int) string {
		if op == "" {
			return "line " + strconv.Itoa(line)
		}
		return "the " + op + " at line " + strconv.Itoa(line)
	}
	return end(e.FromOp, e.FromLine) + " unblocks " + end(e.ToOp, e.ToLine)
}

// Matches reports whether an edge of a timeline, from fromOp at line
// fromLine to toOp at toLine, is this one.
func (e Edge) Matches(fromOp string, fromLine int, toOp string, toLine int) bool {
	return e.FromLine == fromLine && e.ToLine == toLine &&
		(e.FromOp == "" || e.FromOp == fromOp) && (e.ToOp == "" || e.ToOp == toOp)
}
