package compiler_test

import (
	"strings"
	"testing"

	"github.com/encc-lang/encc/compiler"
	"github.com/encc-lang/encc/ir"
)

const distillSrc = `
dataset digits {
    source = builtin("digits")
}
model Big {
    fc1  = Linear(64, 128)
    drop = Dropout(0.3)
    fc2  = Linear(128, 10)
    forward(x: f32[B, 64]) -> (h: f32[B, 128], logits: f32[B, 10]) {
        h = x |> fc1 |> relu
        return { h: h, logits: h |> drop |> fc2 }
    }
}
model Small {
    fc1  = Linear(64, 128)
    fc2  = Linear(128, 10)
    forward(x: f32[B, 64]) -> (h: f32[B, 128], logits: f32[B, 10]) {
        h = x |> fc1 |> relu
        return { h: h, logits: fc2(h) }
    }
}
train big {
    model = Big()
    data  = digits
    loss  = cross_entropy(model(image).logits, label)
    save  = "runs/big.safetensors"
}
train small {
    model   = Small()
    data    = digits
    loss    = cross_entropy(model(image).logits, label)
}
train student {
    model   = Small()
    data    = digits
    teacher = from(big)
    loss    = cross_entropy(model(image).logits, label) + distill(model(image).logits, teacher(image).logits, T: 4) + 0.1 * mse(model(image).h, teacher(image).h)
}
`

// TestTeacherNoBackward checks a distillation train with logit and
// feature distillation: the teacher's parameters are constants
// (teacher.<path>, role const) with no optimizer state; the training
// step reads them exactly as often as the evaluation graph does (no
// backward op touches them), the teacher runs once, without dropout;
// and the step minus the teacher's forward is the student's own step.
func TestTeacherNoBackward(t *testing.T) {
	p, errs := compiler.Check("distill.enc", []byte(distillSrc), nil)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	tr := p.Train("student")
	if tr.Teacher == nil || len(tr.Teacher.Params) != 4 {
		t.Fatal("no teacher with 4 parameters")
	}
	for _, prm := range tr.Params {
		if strings.HasPrefix(prm.Path, "teacher.") {
			t.Errorf("teacher parameter %s among the student's", prm.Path)
		}
	}
	step, err := p.LowerStep(tr, 0, 8)
	if err != nil {
		t.Fatal(err)
	}
	eval, err := p.LowerEval(tr, 8)
	if err != nil {
		t.Fatal(err)
	}
	reads := func(g *ir.Graph) (map[string]int, int) {
		n, dropout := map[string]int{}, 0
		for _, v := range g.Values {
			if v.Op == ir.OpDropout {
				dropout++
			}
			for _, a := range v.Args {
				if a.Op == ir.OpInput && strings.HasPrefix(a.Name, "teacher.") {
					if a.Role() != ir.RoleConst {
						t.Errorf("%s has role %v", a.Name, a.Role())
					}
					n[a.Name]++
				}
			}
		}
		return n, dropout
	}
	inStep, drop := reads(step.Graph)
	inEval, _ := reads(eval)
	if drop != 0 {
		t.Errorf("the step has %d dropout ops: the teacher must run without dropout", drop)
	}
	if len(inStep) != 4 {
		t.Errorf("the step reads %d teacher tensors, want 4", len(inStep))
	}
	for name, n := range inStep {
		if n != 1 || inEval[name] != 1 {
			t.Errorf("%s read %d times by the step, %d by the evaluation: want 1 (one teacher forward, no backward)", name, n, inEval[name])
		}
	}
	for _, s := range step.State {
		if strings.HasPrefix(s.Param, "teacher.") {
			t.Errorf("optimizer state %s for the teacher", s.Name)
		}
	}
	// The student's own step: the same values but the teacher's forward
	// and the distillation terms, and the same backward shape.
	own, err := p.LowerStep(p.Train("small"), 0, 8)
	if err != nil {
		t.Fatal(err)
	}
	if len(own.Trainable) != len(step.Trainable) || len(own.State) != len(step.State) {
		t.Errorf("student trains %d tensors with %d state, alone %d with %d", len(step.Trainable), len(step.State), len(own.Trainable), len(own.State))
	}
}
