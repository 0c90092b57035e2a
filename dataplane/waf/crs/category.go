package crs

// Category is a short static name for the kind of attack a rule detects,
// for access logs and metric labels.
type Category string

// Categories, by CRS rule file.
const (
	CategoryNone            Category = ""
	CategoryMethod          Category = "method"           // 911
	CategoryScanner         Category = "scanner"          // 913
	CategoryProtocol        Category = "protocol"         // 920 (protocol enforcement)
	CategoryProtocolAttack  Category = "protocol_attack"  // 921 (smuggling, splitting, header injection)
	CategoryMultipart       Category = "multipart"        // 922
	CategoryLFI             Category = "lfi"              // 930 (path traversal, local file)
	CategoryRFI             Category = "rfi"              // 931
	CategoryRCE             Category = "rce"              // 932 (shell, command injection)
	CategoryPHP             Category = "php"              // 933
	CategoryGeneric         Category = "generic"          // 934 (SSRF, prototype pollution, ...)
	CategoryXSS             Category = "xss"              // 941
	CategorySQLi            Category = "sqli"             // 942
	CategorySessionFixation Category = "session_fixation" // 943
	CategoryJava            Category = "java"             // 944
	CategoryAnomaly         Category = "anomaly"          // 949, when no detection rule is recorded
	CategoryOther           Category = "other"            // a rule outside CRS's request files
	CategoryBodyUnparsable  Category = "body_unparsable"  // with ErrBody
	CategoryInternal        Category = "internal"         // with the other errors
)

// categoryIDs maps CRS's rule files (rule id / 1000) to categories; the
// last entry catches every other id.
var categoryIDs = [...]struct {
	file int
	cat  Category
}{
	{911, CategoryMethod}, {913, CategoryScanner}, {920, CategoryProtocol},
	{921, CategoryProtocolAttack}, {922, CategoryMultipart}, {930, CategoryLFI},
	{931, CategoryRFI}, {932, CategoryRCE}, {933, CategoryPHP}, {934, CategoryGeneric},
	{941, CategoryXSS}, {942, CategorySQLi}, {943, CategorySessionFixation},
	{944, CategoryJava}, {949, CategoryAnomaly}, {0, CategoryOther},
}

// categoryIndex is id's index in categoryIDs.
func categoryIndex(id int) int {
	f := id / 1000
	for i := range len(categoryIDs) - 1 {
		if categoryIDs[i].file == f {
			return i
		}
	}
	return len(categoryIDs) - 1
}

// categoryOf maps a CRS rule id to its category by the file it is in
// (CRS numbers its rules NNNxxx after their file REQUEST-NNN-*).
func categoryOf(id int) Category { return categoryIDs[categoryIndex(id)].cat }

// Categories lists every category but CategoryNone, for metric registration.
func Categories() []Category {
	out := make([]Category, 0, len(categoryIDs)+2)
	for _, c := range categoryIDs {
		out = append(out, c.cat)
	}
	return append(out, CategoryBodyUnparsable, CategoryInternal)
}
