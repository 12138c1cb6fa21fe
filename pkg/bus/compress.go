package bus

import (
	"errors"
	"fmt"

	"github.com/klauspost/compress/s2"
	"github.com/nats-io/nats.go"
)

// HeaderEncoding names the encoding of a payload [PublisherOptions.Compress]
// compressed; a message without it carries its payload as it is. Dead
// letters keep it with the payload.
const HeaderEncoding = "Peregrine-Encoding"

// EncodingS2 is the s2 block format (github.com/klauspost/compress/s2).
const EncodingS2 = "s2"

// minCompress is the smallest payload worth compressing.
const minCompress = 1 << 10

// ErrEncoding is wrapped by [Msg.Payload] errors: an unknown encoding or
// a payload that does not decode.
var ErrEncoding = errors.New("bad payload encoding")

// compress returns data s2-compressed when that makes it smaller.
func compress(data []byte) ([]byte, bool) {
	if len(data) < minCompress {
		return data, false
	}
	c := s2.Encode(nil, data)
	if len(c) >= len(data) {
		return data, false
	}
	return c, true
}

// Payload returns m's payload as published (see [Payload]).
func (m *Msg) Payload(buf []byte) ([]byte, error) { return Payload(m.Data, m.Header, buf) }

// Payload returns the payload of a message with data and header as it was
// published: decompressed into buf (grown when too small; pass the
// previous result to reuse it) when the publisher compressed it, else
// data itself.
func Payload(data []byte, header nats.Header, buf []byte) ([]byte, error) {
	switch enc := header.Get(HeaderEncoding); enc {
	case "":
		return data, nil
	case EncodingS2:
		n, err := s2.DecodedLen(data)
		if err != nil {
			return nil, fmt.Errorf("%s payload of %d bytes: %w: %v", enc, len(data), ErrEncoding, err)
		}
		if n > cap(buf) {
			buf = make([]byte, n)
		}
		out, err := s2.Decode(buf[:cap(buf)], data)
		if err != nil {
			return nil, fmt.Errorf("%s payload of %d bytes: %w: %v", enc, len(data), ErrEncoding, err)
		}
		return out, nil
	default:
		return nil, fmt.Errorf("%s %q: %w", HeaderEncoding, enc, ErrEncoding)
	}
}
