package attack

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// readNftCounter reads the packets of the named nftables counter table/name
// of an address family (unix.NFPROTO_*) in the current thread's network
// namespace with one netlink request (NFT_MSG_GETOBJ). nft(8) would do,
// but it first caches the whole ruleset, set elements included: with a
// 1M-entry set in the namespace each read takes tens of seconds.
func readNftCounter(family uint8, table, name string) (uint64, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_NETFILTER)
	if err != nil {
		return 0, fmt.Errorf("read counter %s: %w", name, err)
	}
	defer unix.Close(fd)
	tv := unix.NsecToTimeval(int64(5e9))
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		return 0, fmt.Errorf("read counter %s: %w", name, err)
	}

	const seq = 1
	msg := make([]byte, unix.NLMSG_HDRLEN, 128)
	msg = append(msg, family, unix.NFNETLINK_V0, 0, 0) // struct nfgenmsg
	msg = appendAttr(msg, unix.NFTA_OBJ_TABLE, append([]byte(table), 0))
	msg = appendAttr(msg, unix.NFTA_OBJ_NAME, append([]byte(name), 0))
	msg = appendAttr(msg, unix.NFTA_OBJ_TYPE, binary.BigEndian.AppendUint32(nil, unix.NFT_OBJECT_COUNTER))
	binary.NativeEndian.PutUint32(msg[0:], uint32(len(msg)))
	binary.NativeEndian.PutUint16(msg[4:], unix.NFNL_SUBSYS_NFTABLES<<8|unix.NFT_MSG_GETOBJ)
	binary.NativeEndian.PutUint16(msg[6:], unix.NLM_F_REQUEST)
	binary.NativeEndian.PutUint32(msg[8:], seq)
	if err := unix.Sendto(fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return 0, fmt.Errorf("read counter %s: %w", name, err)
	}

	buf := make([]byte, os.Getpagesize()*4)
	for range 16 { // bounded: the answer is one message, maybe after others
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			return 0, fmt.Errorf("read counter %s: %w", name, err)
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			return 0, fmt.Errorf("read counter %s: %w", name, err)
		}
		for _, m := range msgs {
			if m.Header.Seq != seq {
				continue
			}
			switch m.Header.Type {
			case unix.NLMSG_ERROR:
				if len(m.Data) >= 4 {
					if e := int32(binary.NativeEndian.Uint32(m.Data)); e != 0 {
						return 0, fmt.Errorf("read counter %s: %w", name, unix.Errno(-e))
					}
				}
			case unix.NFNL_SUBSYS_NFTABLES<<8 | unix.NFT_MSG_NEWOBJ:
				if len(m.Data) < 4 {
					break
				}
				data, ok := findAttr(m.Data[4:], unix.NFTA_OBJ_DATA)
				if !ok {
					break
				}
				if p, ok := findAttr(data, unix.NFTA_COUNTER_PACKETS); ok && len(p) == 8 {
					return binary.BigEndian.Uint64(p), nil
				}
			}
		}
	}
	return 0, errors.New("read counter " + name + ": no answer")
}

// appendAttr appends one netlink attribute (type, value, padding).
func appendAttr(b []byte, typ uint16, v []byte) []byte {
	b = binary.NativeEndian.AppendUint16(b, uint16(unix.NLA_HDRLEN+len(v)))
	b = binary.NativeEndian.AppendUint16(b, typ)
	b = append(b, v...)
	for len(b)%unix.NLA_ALIGNTO != 0 {
		b = append(b, 0)
	}
	return b
}

// findAttr returns the value of the first attribute of type typ in b
// (the nested flag ignored).
func findAttr(b []byte, typ uint16) ([]byte, bool) {
	for len(b) >= unix.NLA_HDRLEN {
		l := int(binary.NativeEndian.Uint16(b))
		t := binary.NativeEndian.Uint16(b[2:]) & 0x3fff // NLA_TYPE_MASK
		if l < unix.NLA_HDRLEN || l > len(b) {
			return nil, false
		}
		if t == typ {
			return b[unix.NLA_HDRLEN:l], true
		}
		l = (l + unix.NLA_ALIGNTO - 1) &^ (unix.NLA_ALIGNTO - 1)
		if l > len(b) {
			return nil, false
		}
		b = b[l:]
	}
	return nil, false
}
