package io.kvserve.kvcache;

import io.kvserve.kvcache.press.PressRegistry;
import io.kvserve.kvcache.press.QuantizePress;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** KIVI with keys and values in different code widths ({@code kbits}, {@code vbits}): parsing and the allocator's bytes. */
class KiviMixedWidthsTest {
    @Test
    void parsesPrintsAndRefuses() {
        KvStorage k8 = KvStorage.parse("kivi4:residual=0,meta=q8,kbits=8");
        assertThat(k8.keyBits()).isEqualTo(8);
        assertThat(k8.valueBits()).isEqualTo(4);
        assertThat(k8.toString()).isEqualTo("kivi4:residual=0,meta=q8,kbits=8");
        assertThat(KvStorage.parse("kivi4:kbits=4,vbits=4")).isEqualTo(KvStorage.parse("kivi4"));   // the type's own width
        assertThat(KvStorage.parse("kivi2:vbits=8").toString()).isEqualTo("kivi2:vbits=8");
        assertThatThrownBy(() -> KvStorage.parse("kivi4:kbits=3")).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("kbits must be 2, 4 or 8");
        assertThatThrownBy(() -> KvStorage.parse("f16:vbits=4")).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("only the KIVI types");
        assertThatThrownBy(() -> new KvStorage(KvElementType.Q8_0, 0, false, false, 2, 8, 0)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("KIVI options");
        QuantizePress q = (QuantizePress) PressRegistry.parse("quantize:type=kivi4,residual=0,meta=q8,kbits=8,vbits=2");
        assertThat(q.storage()).isEqualTo(KvStorage.parse("kivi4:residual=0,meta=q8,kbits=8,vbits=2"));
        assertThat(q.spec()).isEqualTo("quantize:type=kivi4,residual=0,meta=q8,kbits=8,vbits=2");
        assertThat(PressRegistry.parse(q.spec())).isEqualTo(q);
        assertThatThrownBy(() -> PressRegistry.parse("quantize:type=q4_0,kbits=8")).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("KIVI");
        assertThatThrownBy(() -> PressRegistry.parse("quantize:type=kivi4,vbits=16")).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("2, 4 or 8");
    }

    /**
     * Bytes of 2048 tokens of one head of 8 channels, no residual, so every token is in a group page:
     * a key channel record is 2 x meta + 32 x kbits / 8 bytes per 32 tokens, a value row 2 x meta + 8 x vbits / 8.
     * KIVI-4 with 8-bit keys and 8-bit metadata: 8 x (2 + 32) / 32 + (2 + 4) = 14.5 bytes per token.
     */
    @ParameterizedTest(name = "{0}: {1} bytes per token")
    @CsvSource({"f16,32", "'kivi4:residual=0',13", "'kivi4:residual=0,kbits=8',17", "'kivi4:residual=0,kbits=8,meta=q8',14.5",
            "'kivi2:residual=0,vbits=4,meta=q8',8.5", "'kivi4:residual=0,kbits=8,vbits=8',21"})
    void bytesPerToken(String spec, double perToken) {
        int n = 2048;
        assertThat(StorageFidelityTest.bytesFor(KvStorage.parse(spec), 8, n)).isEqualTo((long) (n * perToken));
    }
}
