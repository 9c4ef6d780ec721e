package v1alpha1

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

var (
	quantityType = reflect.TypeFor[resource.Quantity]()
	timeType     = reflect.TypeFor[metav1.Time]()
	durationType = reflect.TypeFor[time.Duration]()
	fieldsV1Type = reflect.TypeFor[metav1.FieldsV1]()
)

// fill sets every field reachable from v to a non-zero value derived from
// seed: pointers get a target, maps and slices two entries.
func fill(t *testing.T, v reflect.Value, seed int, path string) {
	t.Helper()
	switch v.Type() {
	case quantityType:
		v.Set(reflect.ValueOf(*resource.NewQuantity(int64(seed), resource.DecimalSI)))
		return
	case timeType:
		v.Set(reflect.ValueOf(metav1.NewTime(time.Unix(int64(1_700_000_000+seed), 0).UTC())))
		return
	case durationType:
		v.SetInt(int64(seed) * int64(time.Minute))
		return
	case fieldsV1Type:
		v.Set(reflect.ValueOf(metav1.FieldsV1{Raw: []byte(fmt.Sprintf(`{"f:seed":{"%d":{}}}`, seed))}))
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		for i := range v.NumField() {
			if !v.Type().Field(i).IsExported() {
				t.Fatalf("%s: unexported field %s; teach fill its type %s", path, v.Type().Field(i).Name, v.Type())
			}
			fill(t, v.Field(i), seed+i, path+"."+v.Type().Field(i).Name)
		}
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(t, v.Elem(), seed, path)
	case reflect.Map:
		v.Set(reflect.MakeMap(v.Type()))
		for i := range 2 {
			k := reflect.New(v.Type().Key()).Elem()
			fill(t, k, seed+i, path+"[key]")
			e := reflect.New(v.Type().Elem()).Elem()
			fill(t, e, seed+i, path+"[]")
			v.SetMapIndex(k, e)
		}
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 2, 2))
		for i := range 2 {
			fill(t, v.Index(i), seed+i, fmt.Sprintf("%s[%d]", path, i))
		}
	case reflect.String:
		v.SetString(fmt.Sprintf("s%d", seed))
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(int64(seed%100 + 1))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(uint64(seed%100 + 1))
	default:
		t.Fatalf("%s: cannot fill a %s", path, v.Type())
	}
}

// mutate changes every value reachable from v in place, through the same
// pointers, maps and slices: a copy that shares any of them changes too.
func mutate(v reflect.Value) {
	switch v.Type() {
	case quantityType:
		v.Set(reflect.ValueOf(resource.MustParse("999")))
		return
	case timeType:
		v.Set(reflect.ValueOf(metav1.NewTime(time.Unix(1, 0).UTC())))
		return
	case durationType:
		v.SetInt(v.Int() + 1)
		return
	case fieldsV1Type:
		// Rewrites {"f:seed..." to {"g:seed..." in place, still valid JSON.
		raw := v.FieldByName("Raw")
		if raw.Len() > 2 {
			raw.Index(2).SetUint(raw.Index(2).Uint() + 1)
		}
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		for i := range v.NumField() {
			mutate(v.Field(i))
		}
	case reflect.Pointer:
		if !v.IsNil() {
			mutate(v.Elem())
		}
	case reflect.Map:
		for _, k := range v.MapKeys() {
			e := reflect.New(v.Type().Elem()).Elem()
			e.Set(v.MapIndex(k))
			mutate(e)
			v.SetMapIndex(k, e)
		}
	case reflect.Slice:
		for i := range v.Len() {
			mutate(v.Index(i))
		}
	case reflect.String:
		v.SetString(v.String() + "-changed")
	case reflect.Bool:
		v.SetBool(!v.Bool())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(v.Int() + 1)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(v.Uint() + 1)
	}
}

// TestDeepCopyCoversEveryField fills every field of a VirtualCluster and a
// VirtualClusterList, copies them, and checks that the copy equals the
// original and shares no memory with it.
func TestDeepCopyCoversEveryField(t *testing.T) {
	t.Parallel()
	for _, obj := range []runtime.Object{&VirtualCluster{}, &VirtualClusterList{}} {
		t.Run(reflect.TypeOf(obj).Elem().Name(), func(t *testing.T) {
			t.Parallel()
			fill(t, reflect.ValueOf(obj).Elem(), 1, "")
			cp := obj.DeepCopyObject()
			if !equality.Semantic.DeepEqual(obj, cp) {
				t.Fatalf("copy differs from the original:\n%s\n%s", mustJSON(t, obj), mustJSON(t, cp))
			}
			before := mustJSON(t, cp)
			mutate(reflect.ValueOf(obj).Elem())
			if after := mustJSON(t, cp); after != before {
				t.Errorf("changing the original changed the copy: it shares memory.\nbefore: %s\nafter:  %s", before, after)
			}
			if mustJSON(t, obj) == before {
				t.Error("mutate changed nothing; the test proves nothing")
			}
		})
	}
}

func TestDeepCopyNil(t *testing.T) {
	t.Parallel()
	var vc *VirtualCluster
	if vc.DeepCopy() != nil || vc.DeepCopyObject() != nil {
		t.Error("a nil VirtualCluster copies to non-nil")
	}
	var list *VirtualClusterList
	if list.DeepCopy() != nil || list.DeepCopyObject() != nil {
		t.Error("a nil VirtualClusterList copies to non-nil")
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	j, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(j)
}
