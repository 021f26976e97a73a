package xmlstream

// AppendEscaped appends s escaped for use in an attribute value (quoted
// with either quote) or text, dropping characters XML does not allow.
func AppendEscaped(b []byte, s string) []byte { return appendEscaped(b, s, true) }
