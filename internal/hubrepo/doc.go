// Package hubrepo reads a folder of repositories laid out like the Hugging Face
// Hub and describes each one the way the Hub does: files with their git blob
// ids, LFS pointers and sha256 digests, directories with git tree ids, and a
// commit id derived from the content.
//
// Layout of a root folder:
//
//	<root>/models/<org>/<name>/<files...>
//	<root>/datasets/<org>/<name>/<files...>
//	<root>/spaces/<org>/<name>/<files...>
//	<root>/kernels/<org>/<name>/<files...>
//
// One-segment (legacy) ids such as "gpt2" are supported when unambiguous: the
// folder <root>/models/gpt2/ is a one-segment repository if it directly holds
// at least one regular file; otherwise it is an organisation whose
// sub-folders are repositories. So an organisation folder must hold folders
// only, and a one-segment repository must hold at least one file at its top.
// Anything outside the four type folders (for example a simulator's settings
// file or alternate revision folders) is ignored by Root.List and Root.Repo.
//
// Hashing is lazy: nothing is read when a Root is opened, and a repository's
// files are hashed the first time a Snapshot of it is asked for. Digests are
// memoized by (path, size, modification time, inode), so later snapshots only
// stat the files. A snapshot is reused for SnapshotTTL before the folder is
// walked again, so edits to a mirror become visible after at most that long.
//
// Safety: repository ids and paths are checked segment by segment; symbolic
// links are followed only when their target stays inside the root; symlinked
// directories, special files and names that cannot be Hub paths are left out
// of the listing and reported in Snapshot.Skipped.
//
// Root and Snapshot are safe for concurrent use.
package hubrepo
