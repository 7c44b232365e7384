package io.kvserve.router.knn;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import org.apache.lucene.document.Document;
import org.apache.lucene.document.KnnFloatVectorField;
import org.apache.lucene.document.NumericDocValuesField;
import org.apache.lucene.index.DirectoryReader;
import org.apache.lucene.index.IndexWriter;
import org.apache.lucene.index.IndexWriterConfig;
import org.apache.lucene.index.LeafReaderContext;
import org.apache.lucene.index.NumericDocValues;
import org.apache.lucene.index.VectorSimilarityFunction;
import org.apache.lucene.search.IndexSearcher;
import org.apache.lucene.search.KnnFloatVectorQuery;
import org.apache.lucene.search.ScoreDoc;
import org.apache.lucene.search.TopDocs;
import org.apache.lucene.store.ByteBuffersDirectory;

/**
 * Approximate cosine search with Lucene's in-memory HNSW graph. Vectors added are visible to the next search (the
 * reader is reopened lazily). One large RAM buffer keeps a bulk load in one segment, so searches visit one graph.
 */
public final class HnswIndex implements VectorIndex {
    private static final String FIELD = "v";
    private static final String ID = "id";
    private final int dim;
    private final ByteBuffersDirectory dir = new ByteBuffersDirectory();
    private final IndexWriter writer;
    private volatile DirectoryReader reader;
    private volatile boolean dirty;
    private int size;
    private final int efSearch;

    /** @param efSearch candidates explored per search (at least k); larger is more accurate and slower */
    public HnswIndex(int dim, int efSearch) {
        this.dim = dim;
        this.efSearch = efSearch;
        try {
            IndexWriterConfig cfg = new IndexWriterConfig().setRAMBufferSizeMB(1024).setCommitOnClose(false);
            this.writer = new IndexWriter(dir, cfg);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public int dimension() {
        return dim;
    }

    @Override
    public synchronized int size() {
        return size;
    }

    @Override
    public synchronized int add(float[] v) {
        VectorIndex.checkDim(dim, v);
        Document doc = new Document();
        doc.add(new KnnFloatVectorField(FIELD, v, VectorSimilarityFunction.DOT_PRODUCT));
        doc.add(new NumericDocValuesField(ID, size));
        try {
            writer.addDocument(doc);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        dirty = true;
        return size++;
    }

    private DirectoryReader reader() throws IOException {
        if (!dirty && reader != null) return reader;
        synchronized (this) {
            if (reader == null) {
                reader = DirectoryReader.open(writer);
            } else if (dirty) {
                DirectoryReader r = DirectoryReader.openIfChanged(reader, writer);
                if (r != null) {
                    reader.decRef();
                    reader = r;
                }
            }
            dirty = false;
            return reader;
        }
    }

    /** Builds the graph now (flushes the buffer) instead of on the first search. */
    public void refresh() {
        try {
            reader();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public List<Neighbour> search(float[] q, int k) {
        VectorIndex.checkDim(dim, q);
        try {
            DirectoryReader r = reader();
            if (!r.tryIncRef()) return search(q, k);
            try {
                IndexSearcher s = new IndexSearcher(r);
                TopDocs top = s.search(new KnnFloatVectorQuery(FIELD, q, Math.max(k, efSearch)), Math.max(k, efSearch));
                List<Neighbour> out = new ArrayList<>(Math.min(k, top.scoreDocs.length));
                List<LeafReaderContext> leaves = r.leaves();
                for (ScoreDoc sd : top.scoreDocs) {
                    if (out.size() == k) break;
                    LeafReaderContext leaf = leaves.get(org.apache.lucene.index.ReaderUtil.subIndex(sd.doc, leaves));
                    NumericDocValues ids = leaf.reader().getNumericDocValues(ID);
                    int local = sd.doc - leaf.docBase;
                    if (ids == null || !ids.advanceExact(local)) throw new IllegalStateException("document " + sd.doc + " has no id");
                    // Lucene's DOT_PRODUCT score is (1 + cos) / 2
                    out.add(new Neighbour((int) ids.longValue(), 2 * sd.score - 1));
                }
                return out;
            } finally {
                r.decRef();
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public synchronized void close() {
        try {
            if (reader != null) reader.close();
            writer.rollback();
            dir.close();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
