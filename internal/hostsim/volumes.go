package hostsim

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
)

const (
	// StorageClassName is the default StorageClass of the embedded host.
	StorageClassName = "standard"
	// provisionerName is the provisioner of StorageClassName, implemented here.
	provisionerName = "kubicle.dev/simulated-volume"
)

// ensureStorageClass creates the host's default StorageClass, as kind ships one.
func ensureStorageClass(ctx context.Context, client kubernetes.Interface) error {
	sc := &storagev1.StorageClass{
		ObjectMeta: metav1.ObjectMeta{
			Name:        StorageClassName,
			Annotations: map[string]string{"storageclass.kubernetes.io/is-default-class": "true"},
			Labels:      map[string]string{SimulatedLabel: "true"},
		},
		Provisioner:       provisionerName,
		ReclaimPolicy:     ptr(corev1.PersistentVolumeReclaimDelete),
		VolumeBindingMode: ptr(storagev1.VolumeBindingImmediate),
	}
	_, err := client.StorageV1().StorageClasses().Create(ctx, sc, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating storage class %s: %w", StorageClassName, err)
	}
	return nil
}

// runProvisioner provisions a PersistentVolume for every claim of StorageClassName,
// the job a CSI driver's external-provisioner does on a real cluster. The volume is
// a hostPath directory under dir, which every node of the embedded host reaches (they
// share this machine), so a pod keeps its data when it moves to another node; the
// directory is writable by any user, as kind's local-path provisioner makes it,
// because a hostPath volume gets no fsGroup ownership. The host's
// persistentvolume-binder controller binds claim and volume as it would any other
// pair. Reclaim policy Delete is honoured by deleting released volumes and their
// directories.
func runProvisioner(ctx context.Context, client kubernetes.Interface, dir string) {
	logger := klog.FromContext(ctx).WithName("provisioner")
	factory := informers.NewSharedInformerFactory(client, 10*time.Minute)
	claims := factory.Core().V1().PersistentVolumeClaims()
	volumes := factory.Core().V1().PersistentVolumes()
	queue := workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[string]())
	enqueue := func(obj any) {
		if key, err := cache.MetaNamespaceKeyFunc(obj); err == nil {
			queue.Add("claim/" + key)
		}
	}
	_, _ = claims.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: enqueue, UpdateFunc: func(_, o any) { enqueue(o) }})
	_, _ = volumes.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { queue.Add("volume/" + o.(*corev1.PersistentVolume).Name) },
		UpdateFunc: func(_, o any) { queue.Add("volume/" + o.(*corev1.PersistentVolume).Name) },
	})
	factory.Start(ctx.Done())
	factory.WaitForCacheSync(ctx.Done())
	go func() {
		<-ctx.Done()
		queue.ShutDown()
	}()
	for {
		key, quit := queue.Get()
		if quit {
			return
		}
		err := provision(ctx, client, claims.Lister(), volumes.Lister(), dir, key)
		if err != nil {
			logger.Error(err, "Provisioning", "key", key)
			queue.AddRateLimited(key)
		} else {
			queue.Forget(key)
		}
		queue.Done(key)
	}
}

func provision(ctx context.Context, client kubernetes.Interface, claims corelisters.PersistentVolumeClaimLister, volumes corelisters.PersistentVolumeLister, dir, key string) error {
	kind, rest, _ := strings.Cut(key, "/")
	if kind == "volume" {
		pv, err := volumes.Get(rest)
		if apierrors.IsNotFound(err) {
			return nil
		} else if err != nil {
			return err
		}
		if pv.Annotations["pv.kubernetes.io/provisioned-by"] == provisionerName && pv.Status.Phase == corev1.VolumeReleased &&
			pv.Spec.PersistentVolumeReclaimPolicy == corev1.PersistentVolumeReclaimDelete {
			if hp := pv.Spec.HostPath; hp != nil && filepath.Dir(hp.Path) == dir {
				if err := os.RemoveAll(hp.Path); err != nil {
					return fmt.Errorf("removing volume directory %s: %w", hp.Path, err)
				}
			}
			return client.CoreV1().PersistentVolumes().Delete(ctx, pv.Name, metav1.DeleteOptions{})
		}
		return nil
	}
	ns, name, err := cache.SplitMetaNamespaceKey(rest)
	if err != nil {
		return nil
	}
	pvc, err := claims.PersistentVolumeClaims(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	} else if err != nil {
		return err
	}
	if pvc.Spec.VolumeName != "" || pvc.DeletionTimestamp != nil || pvc.Annotations["volume.kubernetes.io/storage-provisioner"] != provisionerName {
		return nil
	}
	pvName := "pvc-" + string(pvc.UID)
	if _, err := volumes.Get(pvName); err == nil {
		return nil
	}
	path := filepath.Join(dir, pvName)
	if err := os.MkdirAll(path, 0o777); err != nil {
		return fmt.Errorf("volume directory %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o777); err != nil { // past the umask
		return fmt.Errorf("volume directory %s: %w", path, err)
	}
	capacity := pvc.Spec.Resources.Requests[corev1.ResourceStorage]
	pv := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{
			Name:        pvName,
			Annotations: map[string]string{"pv.kubernetes.io/provisioned-by": provisionerName},
			Labels:      map[string]string{SimulatedLabel: "true"},
		},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: capacity},
			AccessModes:                   pvc.Spec.AccessModes,
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimDelete,
			StorageClassName:              StorageClassName,
			VolumeMode:                    pvc.Spec.VolumeMode,
			ClaimRef: &corev1.ObjectReference{
				Kind: "PersistentVolumeClaim", APIVersion: "v1",
				Namespace: pvc.Namespace, Name: pvc.Name, UID: pvc.UID,
			},
			PersistentVolumeSource: corev1.PersistentVolumeSource{
				HostPath: &corev1.HostPathVolumeSource{Path: path, Type: ptr(corev1.HostPathDirectory)},
			},
		},
	}
	_, err = client.CoreV1().PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}

func ptr[T any](v T) *T { return &v }
