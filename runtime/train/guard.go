package train

// This file keeps a run from destroying checkpoints: one writer per
// checkpoint path (a lock), and a fresh run keeps the checkpoint it
// replaces as the previous one.

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// LockPath is the lock file of the checkpoint at path, held while a run
// writes it: runs/x.safetensors → runs/x.safetensors.lock.
func LockPath(path string) string { return path + ".lock" }

// PrevPath is where a fresh run keeps the checkpoint it replaces:
// runs/x.safetensors → runs/x.prev.safetensors.
func PrevPath(path string) string {
	ext := filepath.Ext(path)
	return strings.TrimSuffix(path, ext) + ".prev" + ext
}

// A LockedError says that another process writes the checkpoint.
type LockedError struct {
	Path  string // the checkpoint
	Owner string // what the lock file says of its holder ("pid 1234 on host, since ...")
}

func (e *LockedError) Error() string {
	owner := ""
	if e.Owner != "" {
		owner = " (" + e.Owner + ")"
	}
	return fmt.Sprintf("%s is being written by another encc run%s; wait for it to finish, or save this run elsewhere", e.Path, owner)
}

// A ckptLock is a held lock on a checkpoint path.
type ckptLock struct {
	f    *os.File
	path string
}

// lockCheckpoint takes the lock of the checkpoint at path, creating its
// folder, or returns a *LockedError when another live process holds it.
// The lock is an advisory lock (flock) on the lock file, which the
// kernel releases when its holder dies: a run killed with SIGKILL never
// blocks the next one. The file records who holds it, for the message.
func lockCheckpoint(path string) (*ckptLock, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	lp := LockPath(path)
	for tries := 0; ; tries++ {
		f, err := os.OpenFile(lp, os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			return nil, fmt.Errorf("cannot lock %s: %w", path, err)
		}
		held, err := tryLock(f)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("cannot lock %s: %w", path, err)
		}
		if !held {
			owner, _ := io.ReadAll(io.LimitReader(f, 200))
			f.Close()
			return nil, &LockedError{Path: path, Owner: strings.TrimSpace(string(owner))}
		}
		// The holder before us may have removed the file after we opened
		// it: then our lock is on a file no one else will see; retry.
		if same, err := sameFile(f, lp); err != nil || !same {
			unlock(f)
			f.Close()
			if tries < 10 {
				continue
			}
			return nil, fmt.Errorf("cannot lock %s: the lock file keeps changing", path)
		}
		host, _ := os.Hostname()
		f.Truncate(0)
		fmt.Fprintf(f, "pid %d on %s, since %s\n", os.Getpid(), host, time.Now().UTC().Format(time.RFC3339))
		return &ckptLock{f: f, path: lp}, nil
	}
}

// release removes the lock file and releases the lock (in that order, so
// that a waiting run that then locks the old file sees it is gone).
func (l *ckptLock) release() {
	if l == nil {
		return
	}
	os.Remove(l.path)
	unlock(l.f)
	l.f.Close()
}

func sameFile(f *os.File, path string) (bool, error) {
	a, err := f.Stat()
	if err != nil {
		return false, err
	}
	b, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return os.SameFile(a, b), nil
}

// keepPrevious moves the checkpoint at path, if there is one, to
// PrevPath(path) (with its vocabulary), before a fresh run writes its
// first checkpoint there, and says so on log. A run never silently
// destroys a finished checkpoint: the one it replaces stays one run
// back. The one kept before it is replaced.
func keepPrevious(path string, log io.Writer, train string) error {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil
	} else if err != nil {
		return err
	}
	prev := PrevPath(path)
	if err := os.Rename(path, prev); err != nil {
		return fmt.Errorf("cannot keep the previous checkpoint: %w", err)
	}
	if v := VocabPath(path); fileExists(v) {
		if err := os.Rename(v, VocabPath(prev)); err != nil {
			return fmt.Errorf("cannot keep the previous vocabulary: %w", err)
		}
	}
	fmt.Fprintf(log, "%s: a new run replaces %s; the previous checkpoint is kept as %s\n", train, path, prev)
	return nil
}
