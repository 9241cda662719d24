package inspector

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"unicode/utf8"

	tea "charm.land/bubbletea/v2"
	"github.com/wstap/wstap/capture"
	"github.com/wstap/wstap/internal/present"
)

type action uint8

const (
	actCopy action = iota
	actSave
	actEdit
	actInline
)

// payloadMsg carries a payload read for an action on it.
type payloadMsg struct {
	act  action
	msg  capture.Message
	data []byte
	path string
	err  error
}

type editedMsg struct {
	msg  capture.Message
	path string
	old  []byte
	err  error
}

// target is the message an action applies to: the one in the detail view,
// or the one under the list's cursor.
func (m *Model) target() (capture.Message, []byte, bool) {
	if m.view == viewDetail && m.det != nil {
		return m.det.msg, m.det.data, true
	}
	if m.view == viewMessages && m.cs != nil {
		if ri := m.cs.rowAt(m.cs.cur); ri >= 0 {
			msg := m.cs.st.message(ri, m.cs.id)
			if m.cs.st.at(ri).whole() {
				return msg, bytes.Clone(msg.Data), true
			}
			return msg, nil, true
		}
	}
	return capture.Message{}, nil, false
}

// act reads the target's payload (when not already read) and then copies,
// saves or edits it.
func (m *Model) act(a action, path string) tea.Cmd {
	msg, data, ok := m.target()
	if !ok {
		return nil
	}
	src, ctx := m.src, m.ctx
	return m.bg.cmd(func() tea.Msg {
		out := payloadMsg{act: a, msg: msg, data: data, path: path}
		if data == nil {
			out.data, _, out.err = readPayload(ctx, src, msg.Conn, msg.Seq)
		}
		if out.err == nil && a == actSave {
			out.err = saveFile(path, out.data)
		}
		return out
	})
}

// saveFile writes data to a new file; it never replaces one.
func saveFile(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("%s already exists; not overwritten", path)
		}
		return err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
	}
	return err
}

func (m *Model) onPayload(p payloadMsg) tea.Cmd {
	if p.err != nil {
		m.setStatus(p.err, "")
		return nil
	}
	switch p.act {
	case actCopy:
		if p.msg.Opcode == capture.OpBinary || !utf8.Valid(p.data) {
			m.setStatus(nil, fmt.Sprintf("copied %s as base64 (OSC 52)", present.Bytes(int64(len(p.data)))))
			return tea.SetClipboard(base64.StdEncoding.EncodeToString(p.data))
		}
		m.setStatus(nil, fmt.Sprintf("copied %s (OSC 52)", present.Bytes(int64(len(p.data)))))
		return tea.SetClipboard(string(p.data))
	case actSave:
		m.setStatus(nil, fmt.Sprintf("saved %s to %s", present.Bytes(int64(len(p.data))), p.path))
	case actEdit:
		return m.edit(p)
	case actInline:
		return m.openInline(p)
	}
	return nil
}

func (m *Model) editor() []string {
	for _, e := range []string{m.opts.Editor, os.Getenv("VISUAL"), os.Getenv("EDITOR")} {
		if f := strings.Fields(e); len(f) > 0 {
			return f
		}
	}
	return []string{"vi"}
}

// edit opens the payload in the user's editor and, once it is saved
// changed, hands it to Options.Resend (see resend).
func (m *Model) edit(p payloadMsg) tea.Cmd {
	ext := ".txt"
	if p.msg.Opcode == capture.OpBinary {
		ext = ".bin"
	}
	f, err := os.CreateTemp("", "wstap-edit-*"+ext)
	if err == nil {
		_, err = f.Write(p.data)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		m.setStatus(err, "")
		return nil
	}
	ed := m.editor()
	cmd := exec.Command(ed[0], append(ed[1:], f.Name())...)
	path, msg, old := f.Name(), p.msg, p.data
	return tea.ExecProcess(cmd, func(err error) tea.Msg {
		return editedMsg{msg: msg, path: path, old: old, err: err}
	})
}

func (m *Model) onEdited(e editedMsg) tea.Cmd {
	data, err := os.ReadFile(e.path)
	os.Remove(e.path)
	if e.err != nil {
		m.setStatus(fmt.Errorf("editor: %w", e.err), "")
		return nil
	}
	if err != nil {
		m.setStatus(err, "")
		return nil
	}
	if bytes.Equal(data, e.old) {
		m.setStatus(nil, "unchanged; nothing resent")
		return nil
	}
	return m.resend(e.msg, data)
}

// defaultSavePath names a payload's file after its position.
func (m *Model) defaultSavePath() string {
	msg, _, ok := m.target()
	if !ok {
		return ""
	}
	ext := ".bin"
	if msg.Opcode == capture.OpText {
		ext = ".txt"
		if len(msg.Data) > 0 && (msg.Data[0] == '{' || msg.Data[0] == '[') {
			ext = ".json"
		}
	}
	return filepath.Clean(fmt.Sprintf("wstap-conn%d-seq%d%s", msg.Conn, msg.Seq, ext))
}
