package agent

// blankComments returns data with each "//" comment (to the end of its line, outside
// JSON strings) replaced by spaces, so that a configuration file may explain itself
// (`upkeep config example` prints one that does) while every byte keeps its offset:
// the line and column of an error, and the keys a settings change rewrites, are those
// of the file as written. data itself is not changed.
func blankComments(data []byte) []byte {
	var out []byte // nil until the first comment: most files have none
	inString, escaped := false, false
	for i := 0; i < len(data); i++ {
		c := data[i]
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '/' && i+1 < len(data) && data[i+1] == '/':
			if out == nil {
				out = append([]byte(nil), data...)
			}
			for ; i < len(data) && data[i] != '\n'; i++ {
				if data[i] != '\r' {
					out[i] = ' '
				}
			}
		}
	}
	if out == nil {
		return data
	}
	return out
}
