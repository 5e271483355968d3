package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// Dir is a source on a local folder (a mounted share, a USB stick, a repository being
// published). Names are opened through os.Root, so neither ".." nor a symbolic link
// can lead outside the folder.
type Dir struct {
	dir string
}

var _ Source = (*Dir)(nil)

// NewDir returns a source on the folder dir. The folder need not exist yet: Fetch
// reports ErrUnreachable while it does not.
func NewDir(dir string) *Dir { return &Dir{dir: dir} }

// Fetch opens the file. It honours Offset and Max as the HTTP source does; its
// Validator is derived from the file's size and modification time.
func (d *Dir) Fetch(ctx context.Context, req Request) (*Response, error) {
	if err := checkName(req.Name); err != nil {
		return nil, &Error{Location: d.dir, Name: req.Name, Err: err}
	}
	loc := filepath.Join(d.dir, filepath.FromSlash(req.Name))
	if err := ctx.Err(); err != nil {
		return nil, &Error{Location: loc, Name: req.Name, Err: err}
	}
	f, err := os.OpenInRoot(d.dir, filepath.FromSlash(req.Name))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			if _, serr := os.Stat(d.dir); serr != nil {
				err = fmt.Errorf("%w: %w", ErrUnreachable, serr)
			} else {
				err = ErrNotFound
			}
		}
		return nil, &Error{Location: loc, Name: req.Name, Err: err}
	}
	return fetchFile(loc, req, f)
}

// FS is a source on an fs.FS: files embedded in the program, a zip file, a test's
// fstest.MapFS.
type FS struct {
	fsys fs.FS
}

var _ Source = (*FS)(nil)

// NewFS returns a source on fsys.
func NewFS(fsys fs.FS) *FS { return &FS{fsys: fsys} }

// Fetch opens the file. It honours Offset and Max as the HTTP source does (seeking when
// the file can, discarding bytes otherwise); its Validator is derived from the file's
// size and modification time.
func (s *FS) Fetch(ctx context.Context, req Request) (*Response, error) {
	if err := checkName(req.Name); err != nil {
		return nil, &Error{Location: req.Name, Name: req.Name, Err: err}
	}
	if err := ctx.Err(); err != nil {
		return nil, &Error{Location: req.Name, Name: req.Name, Err: err}
	}
	f, err := s.fsys.Open(req.Name)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			err = ErrNotFound
		}
		return nil, &Error{Location: req.Name, Name: req.Name, Err: err}
	}
	return fetchFile(req.Name, req, f)
}

// fetchFile answers req from the open file f, which it closes unless it returns it
// as the body.
func fetchFile(loc string, req Request, f fs.File) (_ *Response, err error) {
	fail := func(err error) (*Response, error) {
		f.Close()
		return nil, &Error{Location: loc, Name: req.Name, Err: err}
	}
	if req.Offset < 0 || req.Max < 0 || req.Length < 0 {
		return fail(errors.New("source: negative offset or limit"))
	}
	fi, err := f.Stat()
	if err != nil {
		return fail(err)
	}
	if !fi.Mode().IsRegular() {
		return fail(fmt.Errorf("%w: not a regular file", ErrNotFound))
	}
	size := fi.Size()
	validator := fmt.Sprintf("size=%d&mtime=%d", size, fi.ModTime().UnixNano())
	off := req.Offset
	if req.Length > 0 {
		if req.Validator != "" && req.Validator != validator {
			return fail(fmt.Errorf("%w: the file changed", ErrNoRange))
		}
		if off > size {
			return fail(fmt.Errorf("%w: offset %d, size %d", ErrRangeNotSatisfiable, off, size))
		}
		if sk, ok := f.(io.Seeker); ok {
			_, err = sk.Seek(off, io.SeekStart)
		} else {
			_, err = io.CopyN(io.Discard, f, off)
		}
		if err != nil {
			return fail(err)
		}
		b := &body{rc: struct {
			io.Reader
			io.Closer
		}{io.LimitReader(f, req.Length), f}, n: -1}
		b.wrap = func(err error) error { return &Error{Location: loc, Name: req.Name, Err: err} }
		return &Response{Body: b, Offset: off, Size: size, Validator: validator, Location: loc}, nil
	}
	if req.Validator != "" && req.Validator != validator {
		off = 0 // changed: a resume starts over, as an HTTP If-Range would
	}
	if req.Validator == validator && off == 0 {
		f.Close()
		return &Response{NotModified: true, Size: -1, Validator: validator, Location: loc}, nil
	}
	if off > size {
		return fail(fmt.Errorf("%w: offset %d, size %d", ErrRangeNotSatisfiable, off, size))
	}
	limit := int64(-1)
	if req.Max > 0 {
		end := req.Offset + req.Max
		if size > end {
			return fail(fmt.Errorf("%w: the file has %d bytes, at most %d allowed", ErrTooLarge, size, end))
		}
		// Count real bytes too: the file may grow while it is read.
		limit = end - off
	}
	if off > 0 {
		if sk, ok := f.(io.Seeker); ok {
			_, err = sk.Seek(off, io.SeekStart)
		} else {
			_, err = io.CopyN(io.Discard, f, off)
		}
		if err != nil {
			return fail(err)
		}
	}
	b := &body{rc: f, n: limit}
	b.wrap = func(err error) error { return &Error{Location: loc, Name: req.Name, Err: err} }
	return &Response{Body: b, Offset: off, Size: size, Validator: validator, Location: loc}, nil
}
