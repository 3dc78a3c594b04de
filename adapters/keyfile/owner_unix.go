//go:build unix

package keyfile

import (
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// chownLike gives f the owner and group of the file described by like. The
// service usually runs as its own user while an administrator rotates the
// key, often as root: without this the service could not read its key file
// at the next start. When the rotating user may not change the owner, the
// rotation fails instead of leaving a file the service cannot read.
func chownLike(f *os.File, like fs.FileInfo) error {
	st, ok := like.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	mine, err := f.Stat()
	if err != nil {
		return err
	}
	if cur, ok := mine.Sys().(*syscall.Stat_t); ok && cur.Uid == st.Uid && cur.Gid == st.Gid {
		return nil
	}
	if err := f.Chown(int(st.Uid), int(st.Gid)); err != nil {
		return fmt.Errorf("give the new key file the owner of the old one (uid %d, gid %d); run as that user: %w", st.Uid, st.Gid, err)
	}
	return nil
}
