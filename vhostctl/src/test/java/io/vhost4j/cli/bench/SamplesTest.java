package io.vhost4j.cli.bench;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The summary of a bench figure's rounds: the median behind the figure, the range behind its note. */
class SamplesTest {

    @Test
    void theMedianIsTheMiddleValueAndTheRangeItsBounds() {
        Samples s = new Samples(5);
        for (double v : new double[] {21080.9, 17000.2, 30012.0, 18500.4, 19864.6}) {
            s.add(v);
        }
        assertEquals(19864.6, s.median());
        assertEquals(new Samples.Range(17000.2, 30012.0), s.range());
        assertEquals("17000–30012", s.range().toString());
        Samples small = new Samples(2);
        small.add(1.234567);
        small.add(0.9);
        assertEquals("0.900–1.23", small.range().toString());
        assertEquals(1.234567, small.median(), "the upper one of an even count");
    }

    @Test
    void nothingRecordedIsNotANumber() {
        Samples s = new Samples(3);
        assertTrue(Double.isNaN(s.median()));
        assertTrue(Double.isNaN(s.range().min()) && Double.isNaN(s.range().max()));
    }
}
