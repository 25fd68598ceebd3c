// This file holds the body half of the framing guard: how the body after a
// request head is framed, Content-Length skipping, chunked framing and the
// HTTP/2 preface. The head half is in framing.go.

package listener

import "math"

// endHead decides how the body that follows is framed.
func (g *framingGuard) endHead() {
	if g.inTrailer {
		g.endMessage()
		return
	}
	switch {
	case g.connect:
		g.upgradeWanted.Store(upgradeConnect)
	case g.upgrade:
		g.upgradeWanted.Store(upgradeHeader)
	default:
		g.upgradeWanted.Store(upgradeNone)
	}
	switch {
	case g.pri:
		g.prefaceIdx = 0
		g.state = stPreface
	case g.sawTE:
		g.startChunk()
	case g.cl > 0:
		g.remain = g.cl
		g.state = stBody
	default:
		g.endMessage()
	}
}

func (g *framingGuard) endMessage() {
	g.inTrailer = false
	g.leadCRLF = 0
	g.state = stReqStart
}

func (g *framingGuard) startChunk() {
	g.remain, g.hexDigits, g.lineLen = 0, 0, 0
	g.state = stChunkSize
}

func (g *framingGuard) preface(p []byte, i int) (int, string) {
	for ; i < len(p) && g.prefaceIdx < len(h2PrefaceTail); i++ {
		if p[i] != h2PrefaceTail[g.prefaceIdx] {
			return i, reasonBadH2Preface
		}
		g.prefaceIdx++
	}
	if g.prefaceIdx == len(h2PrefaceTail) {
		g.state = stPass
		g.passthrough.Store(true)
	}
	return i, ""
}

// skipData passes Content-Length body bytes or chunk data.
func (g *framingGuard) skipData(p []byte, i int) int {
	n := int64(len(p) - i)
	if n > g.remain {
		n = g.remain
	}
	g.remain -= n
	i += int(n)
	if g.remain == 0 {
		if g.state == stBody {
			g.endMessage()
		} else {
			g.state = stChunkDataCR
		}
	}
	return i
}

func (g *framingGuard) chunkSize(p []byte, i int) (int, string) {
	for ; i < len(p); i++ {
		b := p[i]
		d := hexVal[b]
		if d != 0xff {
			// Like net/http: at most 16 digits; and the size must fit an int64.
			if g.hexDigits == 16 || g.remain > math.MaxInt64>>4 {
				return i, reasonChunkSizeOverflow
			}
			g.remain = g.remain<<4 | int64(d)
			g.hexDigits++
			continue
		}
		switch {
		case b == '\n':
			return i, reasonBareLF
		case g.hexDigits == 0:
			return i, reasonBadChunkSize
		case b == '\r':
			g.state = stChunkSizeLF
			return i + 1, ""
		case b == ';':
			g.lineLen = g.hexDigits + 1
			g.state = stChunkExt
			return i + 1, ""
		}
		return i, reasonBadChunkSize
	}
	return i, ""
}

func (g *framingGuard) chunkExt(p []byte, i int) (int, string) {
	j := scanValue(p, i)
	g.lineLen += j - i
	if g.lineLen >= maxChunkLine {
		return j, reasonChunkLineTooLong
	}
	i = j
	if i == len(p) {
		return i, ""
	}
	switch p[i] {
	case '\r':
		g.state = stChunkSizeLF
		return i + 1, ""
	case '\n':
		return i, reasonBareLF
	}
	return i, reasonBadChunkExt
}

func (g *framingGuard) chunkDelim(p []byte, i int) (int, string) {
	b := p[i]
	switch g.state {
	case stChunkSizeLF:
		if b != '\n' {
			return i, reasonBareCR
		}
		if g.remain == 0 { // last-chunk: the trailer section follows
			g.inTrailer = true
			g.trailerBytes = 0
			g.state = stFieldStart
		} else {
			g.state = stChunkData
		}
	case stChunkDataCR:
		if b != '\r' {
			return i, reasonBadChunkEnd
		}
		g.state = stChunkDataLF
	case stChunkDataLF:
		if b != '\n' {
			return i, reasonBadChunkEnd
		}
		g.startChunk()
	}
	return i + 1, ""
}
