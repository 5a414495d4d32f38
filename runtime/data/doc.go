// Package data loads, splits, preprocesses and batches the datasets that
// .enc programs train on.
//
// # Datasets
//
// A [Dataset] is N samples with named [Field]s. A field has a dtype (f32
// or i32), a per-sample shape, a [Role] (feature, label, token ids,
// padding mask) and contiguous sample-major storage of N × prod(shape)
// values. A label field is a scalar i32 with a class count; text data
// has an ids field i32[T] (Role IDs, Classes = vocabulary size) and a
// mask field i32[T] of 0/1 (Role Mask) next to it, which the trainer
// feeds to graphs that type the mask bool.
//
// # Sources
//
//   - [Builtin]("digits"): scikit-learn's 8×8 digits, embedded in the
//     binary (image f32[64] with values 0..16, label i32, 10 classes).
//   - [ReadCSV]: a header row (or none), a label column of class indices
//     and numeric feature columns → x f32[F], y i32.
//   - [ReadIDX]: MNIST / Fashion-MNIST IDX files, raw or gzipped →
//     image f32[1, rows, cols] with raw values 0..255, held as the
//     bytes (Field.U8, a quarter of the memory of floats), label i32.
//   - [Synthetic]: seeded random data with the shapes of a task, x
//     f32[shape] or ids and mask, and a uniform label.
//
// Files are gunzipped when they start with the gzip magic, whatever their
// name. ReadIDX reads the images and labels files at the same time and
// gunzips the images straight into the field's bytes.
//
// An f32 field held as bytes has a decoding map (Field.Decode: the
// bytes as they are, or after preprocessing its affine map); its values
// are the ones the field held as floats would have, bit for bit. Batches
// decode the rows they gather (AVX2 kernels on amd64: float64 per
// feature, or float32 for a uniform scale that gives the same value for
// each of the 256 bytes); [Field.Values] and [Field.Samples] give the
// values to everything else, and [Field.Materialize] turns the field
// into floats.
//
// # Text
//
// Labelled text is read into a [Corpus] by [ReadTextCSV] (a text and a
// label column), [ReadJSONL] (one object per line) and [ReadJSONDir]
// (every *.json document under a folder, such as the SpamAssassin corpus
// of scripts/fetch-spam.sh), with [TextOptions]: the field names, e-mail
// header stripping ([StripEmailHeaders]) and a label map that folds labels
// into classes. [TextSplits] splits a corpus as [SplitFractions] would,
// fits a [Tokenizer] (words or chars) on the train split only into a
// [Vocab], and encodes every part as ids i32[T] (Role IDs), mask i32[T]
// (Role Mask, 1 at real tokens) and label i32; the special ids are
// [PAD]=0, [UNK]=1, [CLS]=2, [MASK]=3. A Vocab is saved as JSON
// ([Vocab.Save], [LoadVocab]) so that predict encodes raw text
// ([Vocab.Prepare], [Vocab.Encode]) as training did. Class names are
// sorted labels, or 0..max when every label is an integer ([Classes]).
// A words Tokenizer may drop stop words ([EnglishStopWords],
// [ReadStopWords]) before the vocabulary is built and before encoding;
// the list is saved with the Vocab.
//
// # Word vectors
//
// [ReadVectors] reads the word2vec text and binary formats and GloVe's
// text format into [Vectors]; [Vectors.WriteWord2Vec] writes the word2vec
// text format (gensim and fastText read it); [AlignVectors] copies the
// vectors of a Vocab's words into an embedding table. [TextTrain] gives
// the texts of a train split (what skip-gram trains on) and [Vocab.IDs]
// a text's in-vocabulary ids, uncut.
//
// # Errors
//
// Bad data is one *[Error] naming the file and the place:
//
//	data/x.csv:17: row has 63 fields, header has 65
//	data/x.csv:17: column "px3": "abc" is not a number
//	data/x.csv:17: label 12 out of range [0, 10)
//	data/x.csv:17: label "3.5" is not an integer
//	train-labels.gz: record 5: label 12 out of range [0, 10)
//	train-images.gz: wrong IDX magic 0x00000801, want 0x00000803 (images)
//	train-images.gz: truncated: the header says images [60000 28 28] (47040000 bytes), but 1000 bytes follow
//	train-labels.gz: 59999 labels, but train-images.gz has 60000 images
//	data/x.csv: no such file
//	data/r.jsonl:4: no label field "label" (fields: body, text)
//	data/r.csv:9: empty text (column "review")
//	spam/a/01.json: bad JSON: unexpected end of JSON input
//
// Lines and records are 1-based; a record is the n-th image or label.
//
// # Splits, preprocessing, batches
//
// [SplitFractions] shuffles with a seeded permutation and cuts train /
// val / test with scikit-learn's rounding ([SplitSizes]: 1,797 digits at
// 0.8 / 0.2 give 1,437 / 360); [SplitTestSource] pairs a dataset with a
// separate test source. [Splits.Preprocess] fits scale and standard or
// min-max normalization on the train split only and applies it to every
// split. A [Batcher] yields batches of a fixed size in an order drawn per
// epoch from (seed, epoch), so a resumed run replays the same batches; the
// last short batch is yielded unless DropLast is set. Batches are copied
// (decoded) into caller-owned buffers, with no allocation per batch;
// BatchOptions.Parallel lets a worker pool copy a batch in pieces (the
// batch is the same).
//
// # Randomness
//
// All randomness is [Permute]: Fisher–Yates over a math/rand/v2 PCG
// source seeded rand.NewPCG(seed, stream), with [StreamSplit] for splits
// and [StreamEpoch] ^ epoch for batch order. It depends only on the seed,
// the stream and the sample count.
package data
