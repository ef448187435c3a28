package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/atlasstreams/atlas/processors/channel/protocol"
	"github.com/coder/websocket"
	"github.com/google/uuid"
)

// runClient enters a channel as a player over WebSocket and prints every frame it receives
// as a JSON line. With -stdin it sends each line of standard input as a frame (an action,
// a change_channel). A move frame makes it reconnect to the named channel with a new session
// id, as a game client does.
func runClient(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("atlas client", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:7575", "channel gateway, host:port or ws:// URL")
	session := fs.String("session", "", "session id (uuid; default: a new one)")
	account := fs.Uint("account", 0, "account id (required; the account must be in transition toward a channel)")
	character := fs.Uint("character", 0, "character id (required)")
	stdin := fs.Bool("stdin", false, "send each line of standard input as a frame")
	follow := fs.Bool("follow", true, "on a move frame, reconnect where it says")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: atlas client -account N -character N [flags]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *account == 0 || *character == 0 || *account > 1<<32-1 || *character > 1<<32-1 {
		fs.Usage()
		return errors.New("-account and -character are required uint32 ids")
	}
	sid := uuid.New()
	if *session != "" {
		var err error
		if sid, err = uuid.Parse(*session); err != nil {
			return fmt.Errorf("-session: %w", err)
		}
	}
	var lines <-chan string
	if *stdin {
		lines = readLines(os.Stdin)
	}
	target := *addr
	for {
		move, err := playSession(ctx, target, sid, uint32(*account), uint32(*character), lines, os.Stdout)
		if err != nil || move == "" || !*follow {
			return err
		}
		// A new connection is a new session: the old one's close must not log the new one out.
		target, sid = move, uuid.New()
	}
}

// playSession runs one connection: enter, then frames both ways until the connection ends.
// It returns the address of a move frame, if one came.
func playSession(ctx context.Context, addr string, sid uuid.UUID, account, character uint32, lines <-chan string, out io.Writer) (move string, err error) {
	url := addr
	if !strings.HasPrefix(url, "ws://") && !strings.HasPrefix(url, "wss://") {
		url = "ws://" + url
	}
	dialCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	ws, _, err := websocket.Dial(dialCtx, url, nil)
	cancel()
	if err != nil {
		return "", fmt.Errorf("connect to %s: %w", url, err)
	}
	defer ws.CloseNow()
	ws.SetReadLimit(16 << 20)
	enter := fmt.Sprintf(`{"op":%q,"sessionId":%q,"accountId":%d,"characterId":%d}`, protocol.OpEnter, sid, account, character)
	if err := ws.Write(ctx, websocket.MessageText, []byte(enter)); err != nil {
		return "", err
	}

	// Lines wait until the entry is confirmed: an action before it would only be refused.
	pending := lines
	lines = nil
	frames := make(chan []byte)
	readErr := make(chan error, 1)
	go func() {
		for {
			_, data, err := ws.Read(context.Background())
			if err != nil {
				readErr <- err
				close(frames)
				return
			}
			frames <- data
		}
	}()
	for {
		select {
		case <-ctx.Done():
			_ = ws.Close(websocket.StatusNormalClosure, "client quits")
			return "", nil
		case line, ok := <-lines:
			if !ok {
				lines = nil // standard input ended; keep printing what arrives
				continue
			}
			if strings.TrimSpace(line) == "" {
				continue
			}
			if err := ws.Write(ctx, websocket.MessageText, []byte(line)); err != nil {
				return "", err
			}
		case data, ok := <-frames:
			if !ok {
				err := <-readErr
				if s := websocket.CloseStatus(err); s == websocket.StatusNormalClosure || s == websocket.StatusGoingAway {
					return move, nil
				}
				return move, err
			}
			fmt.Fprintln(out, string(data))
			f, err := protocol.ParseServerFrame(data)
			if err != nil {
				continue
			}
			switch f.Op {
			case protocol.OpEntered:
				lines = pending
			case protocol.OpMove:
				move = f.IPAddress + ":" + strconv.Itoa(int(f.Port))
				_ = ws.Close(websocket.StatusNormalClosure, "moving")
				return move, nil
			}
		}
	}
}

// readLines delivers the lines of r until it ends.
func readLines(r io.Reader) <-chan string {
	ch := make(chan string)
	go func() {
		defer close(ch)
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), protocol.MaxFrameBytes)
		for sc.Scan() {
			ch <- sc.Text()
		}
	}()
	return ch
}
