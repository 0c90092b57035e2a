package inject

import (
	"strings"
	"testing"
)

// TestSQLStatement: the statements and functions libinjection has no
// fingerprint for are SQLi wherever they are placed; prose with the same
// words but without their syntax is not.
func TestSQLStatement(t *testing.T) {
	tests := []struct {
		v    string
		want bool
	}{
		{"1' AND GTID_SUBSET(CONCAT(0x7e,(SELECT user()),0x7e),1)-- -", true},
		{"1 and gtid_subtract(concat(0x7e,version()),1)", true},
		{"1 AND ST_LatFromGeoHash((SELECT * FROM (SELECT(user()))a))", true},
		{"1 and polygon((select*from(select*from(select user())a)b))", true},
		{"1 and uuid_to_bin(@@version)", true},
		{"1;shutdown", true},
		{"1; shutdown --", true},
		{"1';SHUTDOWN WITH NOWAIT;--", true},
		{"1;truncate table users--", true},
		{"1;/**/truncate/**/users#", true},
		{"1;grant all on *.* to x--", true},
		{"1';GRANT SELECT, INSERT ON db.* TO 'x'@'%'--", true},
		{"1;create user x identified by 'y'--", true},
		{"1;alter user root identified by 'x'--", true},
		{"1;create role x with superuser login password 'p'", true},
		{"1;create user x with password 'p'", true},
		{"1;create or replace function sys(cstring) returns int as '/lib/x86_64-linux-gnu/libc.so.6','system' language 'c' strict--", true},
		{"1;create function sys_exec(text) returns int language c as 'x'", true},
		{"1;create table x(id int)", false},      // a table changes nothing libinjection's DROP or INSERT do not
		{"1;create table s.p as select 1", true}, // written into an ATTACHed file: a web shell
		{"1;replace into users values(3,'eve','admin','x')", true},
		{"1;set global general_log_file='/var/www/x.php'", true},
		{"Fragile; replace into box", false},
		{"Step 1; create table of contents", false},
		{"1;copy (select '') to program 'id'--", true},
		{"1';copy cmd_exec from program 'id'--", true},
		{"1 WAITFOR DELAY '0:0:5'", true},
		{"1;WAITFOR DELAY '0:0:5'", true},
		{"1 WAITFOR TIME '23:59:59'", true},
		{"1 procedure analyse()", true},
		{"1 and @@version", true},
		{"1 union select @@datadir", true},
		{"'||@@global.secure_file_priv||'", true},
		// Prose and data with the words.
		{"Please wait for delay notices before calling", false},
		{"Wait for delay: '5 days' is normal", false},
		{"copy the report to program files", false},
		{"Copy it to program 'Daily News'", false},
		{"The procedure: analyse the results (see appendix)", false},
		{"polygon (5 sides) and multipoint lines", false},
		{"Save your work; shutdown the machine.", false},
		{"Done; shutdown.", false},
		{"Meeting notes; grant access on Monday to the team", false},
		{"Steps: log in; create user accounts with care", false},
		{"Steps: log in; create user accounts identified by email", false},
		{"Step 2; truncate long names to 20 characters", false},
		{"mail me @ home or @@ the office", false},
		{"follow @@jane on social", false},
		{"a;b;c", false},
		{"1;COPY t TO PROGRAM E'\\x69d'", true},
		{"1;COPY t(c) FROM PROGRAM 'id'", true},
		{"1;GRANT pg_execute_server_program TO app--", true},
		{"1;GRANT dba TO x--", true},
		{"1;CREATE ROLE x LOGIN SUPERUSER PASSWORD 'p'--", true},
		{"1;SET PASSWORD FOR root=PASSWORD('x')--", true},
		{"1;truncate users;", true},
		{"1;TRUNCATE`users`--", true},
		{"1;CREATE USER 'x'@'%'--", true},
		{"x') ; shutdown --", true},
		{"1 AND polygon/**/((select*from(select user())a))", true},
		{"1 AND GTID_SUBSET/**/(CONCAT(0x7e,user()),1)", true},
		{"Names are long; truncate table headers to 20 characters.", false},
		{"We met; set password rules for the team", false},
		{"Admins; grant roles to new hires", false},
		{"Please review the doc; grant me access on docs.example.com", false},
		{"note; truncate logs;", false},
		{"Meeting notes; create table Orders (id, total) next week", false},
		{"Steps; create function calls (see docs) returns early", false},
	}
	for _, tc := range tests {
		got := checkSQLStatement([]byte(tc.v), classMask([]byte(tc.v))) != ""
		if got != tc.want {
			t.Errorf("checkSQLStatement(%q) = %v, want %v", tc.v, got, tc.want)
		}
	}
	d := mustNew(t, Options{})
	var sc Scratch
	for _, tc := range tests {
		if !tc.want {
			continue
		}
		for _, pl := range placements {
			if pl.name == "path" && strings.ContainsAny(tc.v, "/#?") {
				continue // split or cut where the value is a path
			}
			if r := inspectPlaced(d, &sc, pl, tc.v); !r.Detected() {
				t.Errorf("%q in %s: not detected", tc.v, pl.name)
			}
		}
	}
}
