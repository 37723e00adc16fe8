package observe

import (
	"encoding/binary"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"unsafe"
)

// The encoding of Batch.Data. Integers are unsigned varints unless said
// otherwise; a string is its length and its bytes.
//
//	magic       "sob1"
//	layouts     of entry, then of qentry: the number of fields, and for
//	            each its Go name, reflect.Kind (a byte) and size (a byte)
//	classes     the error classes: their number, then each name; the
//	            entries' errIdx indexes them
//	sources     the quality sources, likewise for qentry.source
//	entries     their number, then one column per field of the layout:
//	            the field of every entry, little-endian, size bytes each
//	scores      likewise for the quality scores
//
// The layouts are read from the structs by reflection, so a field added to
// entry or qentry (say, the cached prompt tokens of a request) travels
// without a change here, and the receiver matches fields by name, kind and
// size: a field only one side knows is skipped or left zero. That keeps
// replicas of two builds exchanging Batches during a rolling upgrade.

const batchMagic = "sob1"

// maxBatchItems bounds the entries and scores of a Batch a decoder accepts,
// so a corrupt count cannot make it allocate without bound.
const maxBatchItems = 1 << 24

// fieldLayout is where one fixed-size field of a struct lies.
type fieldLayout struct {
	name   string
	kind   reflect.Kind
	size   uintptr
	offset uintptr
}

var (
	entryLayout  = layoutOf(reflect.TypeFor[entry]())
	qentryLayout = layoutOf(reflect.TypeFor[qentry]())
	bigEndian    = binary.NativeEndian.Uint16([]byte{0, 1}) == 1
)

// layoutOf returns the fields of t, a struct of booleans and fixed-size
// numbers. Any other field (a string, a slice, a pointer) panics, when the
// package initialises, since its bytes would not mean the same in another
// process: give such a field an encoding of its own, as errIdx has.
func layoutOf(t reflect.Type) []fieldLayout {
	var l []fieldLayout
	for i := range t.NumField() {
		f := t.Field(i)
		switch f.Type.Kind() {
		case reflect.Bool, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
		default:
			panic(fmt.Sprintf("observe: field %s.%s is a %s; a Batch encodes only booleans and fixed-size numbers", t.Name(), f.Name, f.Type))
		}
		if f.Name == "_" {
			continue
		}
		l = append(l, fieldLayout{name: f.Name, kind: f.Type.Kind(), size: f.Type.Size(), offset: f.Offset})
	}
	return l
}

// encodeBatch encodes es and qs; classes names the entries' errIdx.
func encodeBatch(es []entry, qs []qentry, classes []string) []byte {
	used := 1
	for i := range es {
		used = max(used, int(es[i].errIdx)+1)
	}
	b := make([]byte, 0, 64+len(es)*int(unsafe.Sizeof(entry{}))+len(qs)*int(unsafe.Sizeof(qentry{})))
	b = append(b, batchMagic...)
	b = appendLayout(b, entryLayout)
	b = appendLayout(b, qentryLayout)
	b = appendStrings(b, classes[:min(used, len(classes))])
	b = appendStrings(b, qualitySources[:])
	b = appendColumns(b, entryLayout, es)
	b = appendColumns(b, qentryLayout, qs)
	return b
}

func appendLayout(b []byte, l []fieldLayout) []byte {
	b = binary.AppendUvarint(b, uint64(len(l)))
	for _, f := range l {
		b = appendString(b, f.name)
		b = append(b, byte(f.kind), byte(f.size))
	}
	return b
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendStrings(b []byte, ss []string) []byte {
	b = binary.AppendUvarint(b, uint64(len(ss)))
	for _, s := range ss {
		b = appendString(b, s)
	}
	return b
}

// appendColumns appends the number of xs, then each field of l of every x.
func appendColumns[T any](b []byte, l []fieldLayout, xs []T) []byte {
	b = binary.AppendUvarint(b, uint64(len(xs)))
	for _, f := range l {
		for i := range xs {
			b = appendLE(b, fieldBytes(&xs[i], f))
		}
	}
	return b
}

// fieldBytes is the memory of field f of *x.
func fieldBytes[T any](x *T, f fieldLayout) []byte {
	return unsafe.Slice((*byte)(unsafe.Add(unsafe.Pointer(x), f.offset)), f.size)
}

// appendLE appends v, a number in the machine's byte order, little-endian.
func appendLE(b, v []byte) []byte {
	if !bigEndian {
		return append(b, v...)
	}
	for i := len(v) - 1; i >= 0; i-- {
		b = append(b, v[i])
	}
	return b
}

// errBadBatch is the error of Data that is not a Batch encoding.
var errBadBatch = errors.New("observe: not a batch encoding (truncated or corrupt, or from an incompatible sluice)")

// decoder reads an encoding; the first error sticks.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errBadBatch
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) bytes(n uint64) []byte {
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.err = errBadBatch
		return nil
	}
	out := d.b[:n]
	d.b = d.b[n:]
	return out
}

func (d *decoder) string() string { return string(d.bytes(d.uvarint())) }

func (d *decoder) strings() []string {
	n := d.uvarint()
	if n > uint64(len(d.b)) { // each takes a byte at least
		d.err = errBadBatch
		return nil
	}
	out := make([]string, 0, n)
	for range n {
		out = append(out, d.string())
	}
	return out
}

func (d *decoder) layout() []fieldLayout {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.err = errBadBatch
		return nil
	}
	l := make([]fieldLayout, 0, n)
	for range n {
		name := d.string()
		ks := d.bytes(2)
		if d.err != nil {
			return nil
		}
		if ks[1] == 0 {
			d.err = errBadBatch
			return nil
		}
		l = append(l, fieldLayout{name: name, kind: reflect.Kind(ks[0]), size: uintptr(ks[1])})
	}
	return l
}

// columns decodes a count and the columns of remote, the sender's layout,
// into new items whose fields local lays out.
func columns[T any](d *decoder, remote, local []fieldLayout) []T {
	n := d.uvarint()
	var width uint64
	for _, f := range remote {
		width += uint64(f.size)
	}
	if d.err != nil || n > maxBatchItems || (n > 0 && width == 0) || n*width > uint64(len(d.b)) {
		d.err = errBadBatch
		return nil
	}
	xs := make([]T, n)
	for _, rf := range remote {
		col := d.bytes(n * uint64(rf.size))
		i := slices.IndexFunc(local, func(lf fieldLayout) bool {
			return lf.name == rf.name && lf.kind == rf.kind && lf.size == rf.size
		})
		if i < 0 {
			continue // a field this build does not know
		}
		lf := local[i]
		for j := range xs {
			dst := fieldBytes(&xs[j], lf)
			src := col[uint64(j)*uint64(lf.size):][:lf.size]
			if bigEndian {
				for k := range dst {
					dst[k] = src[len(src)-1-k]
				}
			} else {
				copy(dst, src)
			}
		}
	}
	return xs
}

// decodeBatch decodes Data, interning the error classes in r.
func (r *Recorder) decodeBatch(data []byte) ([]entry, []qentry, error) {
	d := &decoder{b: data}
	if string(d.bytes(uint64(len(batchMagic)))) != batchMagic {
		return nil, nil, errBadBatch
	}
	el, ql := d.layout(), d.layout()
	classes, sources := d.strings(), d.strings()
	es := columns[entry](d, el, entryLayout)
	qs := columns[qentry](d, ql, qentryLayout)
	if d.err != nil {
		return nil, nil, d.err
	}
	if len(d.b) != 0 {
		return nil, nil, errBadBatch
	}
	idx := make([]uint8, len(classes))
	for i, c := range classes {
		idx[i] = r.internErrClass(c)
	}
	for i := range es {
		e := &es[i]
		if int(e.errIdx) >= len(idx) {
			return nil, nil, errBadBatch
		}
		e.errIdx = idx[e.errIdx]
	}
	for i := range qs {
		q := &qs[i]
		if int(q.source) >= len(sources) {
			return nil, nil, errBadBatch
		}
		q.source = sourceIndex(sources[q.source])
	}
	return es, qs, nil
}
