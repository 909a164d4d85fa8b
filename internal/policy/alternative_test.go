package policy

import (
	"strings"
	"testing"
)

func TestSafeAlternative(t *testing.T) {
	cases := []struct {
		name  string
		path  string
		files []string
		want  string
	}{
		{"transformers rename", "pytorch_model.bin",
			[]string{"config.json", "pytorch_model.bin", "model.safetensors"}, "model.safetensors"},
		{"unsharded bin, sharded safetensors", "pytorch_model.bin",
			[]string{"pytorch_model.bin", "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors", "model.safetensors.index.json"}, "model.safetensors.index.json"},
		{"sharded to matching shard", "pytorch_model-00001-of-00002.bin",
			[]string{"model-00001-of-00002.safetensors", "model.safetensors.index.json"}, "model-00001-of-00002.safetensors"},
		{"sharded to index when shards differ", "pytorch_model-00001-of-00003.bin",
			[]string{"model-00001-of-00002.safetensors", "model.safetensors.index.json"}, "model.safetensors.index.json"},
		{"variant", "pytorch_model.fp16.bin",
			[]string{"model.fp16.safetensors", "model.safetensors"}, "model.fp16.safetensors"},
		{"variant index", "pytorch_model.fp16-00001-of-00002.bin",
			[]string{"model.safetensors.index.fp16.json"}, "model.safetensors.index.fp16.json"},
		{"diffusers", "unet/diffusion_pytorch_model.bin",
			[]string{"unet/diffusion_pytorch_model.safetensors", "vae/diffusion_pytorch_model.safetensors"}, "unet/diffusion_pytorch_model.safetensors"},
		{"diffusers variant", "unet/diffusion_pytorch_model.fp16.bin",
			[]string{"unet/diffusion_pytorch_model.fp16.safetensors"}, "unet/diffusion_pytorch_model.fp16.safetensors"},
		{"same folder only", "text_encoder/pytorch_model.bin",
			[]string{"model.safetensors"}, ""},
		{"nested transformers", "text_encoder/pytorch_model.bin",
			[]string{"text_encoder/model.safetensors"}, "text_encoder/model.safetensors"},
		{"pt stem", "checkpoints/epoch10.pt",
			[]string{"checkpoints/epoch10.safetensors"}, "checkpoints/epoch10.safetensors"},
		{"pth stem", "RealESRGAN_x4.pth",
			[]string{"RealESRGAN_x4.safetensors"}, "RealESRGAN_x4.safetensors"},
		{"ckpt stem upper-case extension", "v1-5-pruned.CKPT",
			[]string{"v1-5-pruned.safetensors"}, "v1-5-pruned.safetensors"},
		{"peft adapter", "adapter_model.bin",
			[]string{"adapter_model.safetensors"}, "adapter_model.safetensors"},
		{"none", "training_args.bin",
			[]string{"model.safetensors", "config.json"}, ""},
		{"empty repo", "pytorch_model.bin", nil, ""},
		{"safetensors has no alternative", "model.safetensors", []string{"model.safetensors"}, ""},
		{"no extension", "weights", []string{"weights.safetensors"}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := SafeAlternative(c.path, c.files); got != c.want {
				t.Errorf("SafeAlternative(%q) = %q; want %q", c.path, got, c.want)
			}
		})
	}
}

func TestRefusalMessage(t *testing.T) {
	d := Default().File(Model, "o/m", "pytorch_model.bin")
	got := RefusalMessage("pytorch_model.bin", d, "model.safetensors")
	want := "safehub: pytorch_model.bin refused: pickle-based weights can run code when loaded (rule default:pickle-names); this repo has model.safetensors"
	if got != want {
		t.Errorf("RefusalMessage =\n%s\nwant\n%s", got, want)
	}
	got = RefusalMessage("x.pt", d, "")
	if want := "safehub: x.pt refused: pickle-based weights can run code when loaded (rule default:pickle-names)"; got != want {
		t.Errorf("without alternative: %q", got)
	}

	hostile := RefusalMessage("mod\u00e8le/\r\nX-Evil: 1\x00\xff.bin", Decision{Rule: "r", Reason: "caf\u00e9 \U0001F600"}, "")
	for i := 0; i < len(hostile); i++ {
		if c := hostile[i]; c < 0x20 || c >= 0x7f {
			t.Fatalf("byte %#x at %d is not printable ASCII: %q", c, i, hostile)
		}
	}
	for _, part := range []string{`mod\u00e8le/\u000d\u000aX-Evil: 1\u0000\xff.bin`, `caf\u00e9 \U0001f600`} {
		if !strings.Contains(hostile, part) {
			t.Errorf("escaped message %q lacks %q", hostile, part)
		}
	}

	long := RefusalMessage(strings.Repeat("a/", 5000)+"x.bin", Decision{Rule: "r", Reason: strings.Repeat("why ", 1000)}, "")
	if len(long) > 1000 || !strings.Contains(long, "...") {
		t.Errorf("long message not capped: %d bytes", len(long))
	}
}
