package rxfilter

import (
	"fmt"
	"regexp/syntax"

	bsyntax "rsc.io/binaryregexp/syntax"
)

// CompileBytes is Compile for a regular expression that
// rsc.io/binaryregexp matches on bytes (each rune of the expression, up to
// 0xff, is one byte). Its ASCII literals are the same bytes as in Go's
// regexp, and every rune from 0x80 up is an unknown byte, so the analysis
// is the same.
func CompileBytes(expr string, flags bsyntax.Flags) (*Filter, error) {
	re, err := bsyntax.Parse(expr, flags)
	if err != nil {
		return nil, fmt.Errorf("compile filter: %w", err)
	}
	return newFilter(fromBytes(re.Simplify()), true), nil
}

// fromBytes converts a parsed binaryregexp into a regexp/syntax tree of
// the same shape, for the analysis.
func fromBytes(b *bsyntax.Regexp) *syntax.Regexp {
	re := &syntax.Regexp{Rune: b.Rune, Min: b.Min, Max: b.Max, Cap: b.Cap, Name: b.Name}
	if b.Flags&bsyntax.FoldCase != 0 {
		re.Flags |= syntax.FoldCase
	}
	switch b.Op {
	case bsyntax.OpNoMatch:
		re.Op = syntax.OpNoMatch
	case bsyntax.OpEmptyMatch:
		re.Op = syntax.OpEmptyMatch
	case bsyntax.OpLiteral:
		re.Op = syntax.OpLiteral
	case bsyntax.OpCharClass:
		re.Op = syntax.OpCharClass
	case bsyntax.OpAnyCharNotNL:
		re.Op = syntax.OpAnyCharNotNL
	case bsyntax.OpAnyChar:
		re.Op = syntax.OpAnyChar
	case bsyntax.OpBeginLine:
		re.Op = syntax.OpBeginLine
	case bsyntax.OpEndLine:
		re.Op = syntax.OpEndLine
	case bsyntax.OpBeginText:
		re.Op = syntax.OpBeginText
	case bsyntax.OpEndText:
		re.Op = syntax.OpEndText
	case bsyntax.OpWordBoundary:
		re.Op = syntax.OpWordBoundary
	case bsyntax.OpNoWordBoundary:
		re.Op = syntax.OpNoWordBoundary
	case bsyntax.OpCapture:
		re.Op = syntax.OpCapture
	case bsyntax.OpStar:
		re.Op = syntax.OpStar
	case bsyntax.OpPlus:
		re.Op = syntax.OpPlus
	case bsyntax.OpQuest:
		re.Op = syntax.OpQuest
	case bsyntax.OpRepeat:
		re.Op = syntax.OpRepeat
	case bsyntax.OpConcat:
		re.Op = syntax.OpConcat
	case bsyntax.OpAlternate:
		re.Op = syntax.OpAlternate
	default:
		// Unknown to the conversion: analyzed as "may match anything".
		re.Op = syntax.Op(0)
	}
	for _, s := range b.Sub {
		re.Sub = append(re.Sub, fromBytes(s))
	}
	return re
}
