package config

import (
	"crypto/sha256"
	"os"
	"path/filepath"
	"reflect"
	"strings"
)

// ReferencedFiles lists every file the configuration names (keys ending in
// "_file": key material, secrets, certificates), in config order.
func (c *Config) ReferencedFiles() []string {
	var out []string
	walkFiles(reflect.ValueOf(c).Elem(), &out)
	return out
}

func walkFiles(v reflect.Value, out *[]string) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			walkFiles(v.Elem(), out)
		}
	case reflect.Struct:
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			tag := strings.Split(f.Tag.Get("mapstructure"), ",")[0]
			if f.Type.Kind() == reflect.String && strings.HasSuffix(tag, "_file") {
				if p := v.Field(i).String(); p != "" {
					*out = append(*out, p)
				}
				continue
			}
			walkFiles(v.Field(i), out)
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			walkFiles(v.Index(i), out)
		}
	case reflect.Map:
		iter := v.MapRange()
		for iter.Next() {
			walkFiles(iter.Value(), out)
		}
	}
}

// resolvePaths makes the relative paths of the configuration (keys ending
// in "_file", and access_log.path and security_events.path when files) relative to dir, the
// directory of the configuration file: a daemon started from another
// directory (systemd starts it in /) must read the same files.
func (c *Config) resolvePaths(dir string) {
	walkFilePaths(reflect.ValueOf(c).Elem(), func(p *string) {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	})
	for _, p := range []*string{&c.AccessLog.Path, &c.SecurityEvents.Path} {
		switch *p {
		case "", "stdout", "stderr", "off":
		default:
			if !filepath.IsAbs(*p) {
				*p = filepath.Join(dir, *p)
			}
		}
	}
}

// walkFilePaths calls f with every string field whose key ends in "_file".
func walkFilePaths(v reflect.Value, f func(*string)) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			walkFilePaths(v.Elem(), f)
		}
	case reflect.Struct:
		t := v.Type()
		for i := range t.NumField() {
			fd := t.Field(i)
			if !fd.IsExported() {
				continue
			}
			tag := strings.Split(fd.Tag.Get("mapstructure"), ",")[0]
			if fd.Type.Kind() == reflect.String && strings.HasSuffix(tag, "_file") {
				f(v.Field(i).Addr().Interface().(*string))
				continue
			}
			walkFilePaths(v.Field(i), f)
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			walkFilePaths(v.Index(i), f)
		}
	case reflect.Map:
		// Map values are not addressable: rewrite copies and store them back.
		iter := v.MapRange()
		for iter.Next() {
			e := reflect.New(iter.Value().Type()).Elem()
			e.Set(iter.Value())
			walkFilePaths(e, f)
			v.SetMapIndex(iter.Key(), e)
		}
	}
}

// digest hashes the configuration bytes and the contents of every file the
// configuration references, so that a reload notices a rotated key or
// secret even when the configuration file itself did not change.
func digest(data []byte, c *Config) [sha256.Size]byte {
	h := sha256.New()
	h.Write(data)
	for _, p := range c.ReferencedFiles() {
		h.Write([]byte{0})
		h.Write([]byte(p))
		h.Write([]byte{0})
		if b, err := os.ReadFile(p); err == nil {
			sum := sha256.Sum256(b)
			h.Write(sum[:])
		} else {
			h.Write([]byte(err.Error()))
		}
	}
	var out [sha256.Size]byte
	h.Sum(out[:0])
	return out
}
