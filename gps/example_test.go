package gps_test

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"

	"github.com/liftrescue/liftrescue"
	"github.com/liftrescue/liftrescue/gps"
)

// A JT/T 808 connection as a server handles it: frames in, fixes out, an answer to each message.
// A bad frame is counted and skipped; only an error of the connection itself ends the loop.
func ExampleFrameReader() {
	conn := bytes.NewReader(mustHex(
		"2424" + // noise before the first frame
			"7e0200001c0123456789010000000004000000080007203b7d0202633df70138000300632410012359591c7e" +
			"7e0002000001234567890100008b7e" + // a heartbeat with a bad checksum
			"7e0002000001234567890100008a7e"))
	fr := gps.NewFrameReader(bufio.NewReader(conn), 0)
	var (
		serial uint16 // the platform's own
		fixes  []liftrescue.Fix
		out    []byte // written back to the terminal
		bad    = map[gps.Fault]int{}
	)
	for {
		frame, err := fr.Next()
		var fe *gps.FrameError
		switch {
		case errors.As(err, &fe):
			bad[fe.Fault]++
			continue
		case err == io.EOF:
			fmt.Printf("%d fixes, %d bad frames, %d bytes skipped, %d answer bytes\n", len(fixes), len(bad), fr.Skipped(), len(out))
			fmt.Printf("%s at %.6f,%.6f %s\n", fixes[0].DeviceID, fixes[0].Lat, fixes[0].Lon, fixes[0].Time)
			return
		case err != nil:
			return // the connection failed or timed out
		}
		p, err := gps.ParsePacket(frame)
		if errors.As(err, &fe) {
			bad[fe.Fault]++
			continue
		}
		result := gps.ResultOK
		if fixes, err = gps.AppendFixes(fixes, &p); err != nil {
			result = gps.ResultBadMessage
		}
		serial++
		out = gps.AppendGeneralResponse(out, &p.Header, serial, result)
	}
	// Output:
	// 1 fixes, 1 bad frames, 2 bytes skipped, 40 answer bytes
	// 12345678901 at 119.552894,40.058359 2024-10-01 15:59:59 +0000 UTC
}

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}
