package binlogtest

import (
	"encoding/binary"
	"fmt"
	"strings"
	"testing"

	"github.com/go-mysql-org/go-mysql/replication"
)

// TestVarlenReadmeExamples checks the varlen encoder against the worked
// examples of libs/mysql/serialization/readme.md ("Variable-length
// integers"), written there most significant byte first.
func TestVarlenReadmeExamples(t *testing.T) {
	for _, tt := range []struct {
		enc  []byte
		want string
	}{
		{varlenUint(65535), "00000111 11111111 11111011"},
		{varlenInt(65535), "00001111 11111111 11110011"},
		{varlenInt(-65535), "00001111 11111111 11101011"},
		{varlenInt(-65536), "00001111 11111111 11111011"},
	} {
		var got []string
		for i := len(tt.enc) - 1; i >= 0; i-- {
			got = append(got, fmt.Sprintf("%08b", tt.enc[i]))
		}
		if g := strings.Join(got, " "); g != tt.want {
			t.Errorf("encoded %s; the readme says %s", g, tt.want)
		}
	}
	// 9 bytes from 57 bits on: eight one bits, then the value.
	if got := varlenUint(1 << 60); len(got) != 9 || got[0] != 0xff || binary.LittleEndian.Uint64(got[1:]) != 1<<60 {
		t.Errorf("2^60 encoded as % x", got)
	}
	if got := varlenUint(1<<56 - 1); len(got) != 8 {
		t.Errorf("2^56-1 encoded in %d bytes, want 8", len(got))
	}
}

// TestFormatDescriptionLength: the format description's own
// post-header length is FORMAT_DESCRIPTION_HEADER_LEN (binlog_event.h:
// ST_COMMON_HEADER_LEN_OFFSET 56 + 1 + LOG_EVENT_TYPES), which is what
// its body up to the checksum algorithm byte holds.
func TestFormatDescriptionLength(t *testing.T) {
	for _, crc := range []bool{false, true} {
		w := &Writer{CRC32: crc}
		fd := w.FormatDescription("8.4.3")
		body := len(fd) - HeaderSize - 1 - 4 // algorithm byte, checksum
		if got := int(postHeaderLengths[replication.FORMAT_DESCRIPTION_EVENT-1]); got != body || got != 56+1+len(postHeaderLengths) {
			t.Errorf("CRC32 %v: post-header length %d, body %d", crc, got, body)
		}
	}
}
