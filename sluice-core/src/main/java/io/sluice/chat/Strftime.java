package io.sluice.chat;

import java.time.LocalDateTime;
import java.time.format.TextStyle;
import java.time.temporal.IsoFields;
import java.util.Locale;

/**
 * Python's {@code datetime.now().strftime(format)} on Linux (glibc directives in the C locale, including
 * the {@code %-d} no-padding flag), for the templates' {@code strftime_now}. Naive local time: %z and %Z are empty.
 */
final class Strftime {
    private Strftime() {
    }

    static String format(LocalDateTime t, String fmt) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < fmt.length(); i++) {
            char c = fmt.charAt(i);
            if (c != '%' || i + 1 >= fmt.length()) {
                sb.append(c);
                continue;
            }
            char d = fmt.charAt(++i);
            boolean noPad = false;
            if ((d == '-' || d == '_') && i + 1 < fmt.length()) {
                noPad = d == '-';
                d = fmt.charAt(++i);
            }
            String v = directive(t, d);
            if (v == null) {
                sb.append('%').append(d);
                continue;
            }
            if (noPad && v.length() > 1) v = v.replaceFirst("^[0 ]+(?=.)", "");
            sb.append(v);
        }
        return sb.toString();
    }

    private static String two(int n) {
        return n < 10 ? "0" + n : Integer.toString(n);
    }

    private static String directive(LocalDateTime t, char d) {
        int hour12 = t.getHour() % 12 == 0 ? 12 : t.getHour() % 12;
        return switch (d) {
            case 'a' -> t.getDayOfWeek().getDisplayName(TextStyle.SHORT, Locale.ENGLISH);
            case 'A' -> t.getDayOfWeek().getDisplayName(TextStyle.FULL, Locale.ENGLISH);
            case 'w' -> Integer.toString(t.getDayOfWeek().getValue() % 7);
            case 'u' -> Integer.toString(t.getDayOfWeek().getValue());
            case 'd' -> two(t.getDayOfMonth());
            case 'e' -> (t.getDayOfMonth() < 10 ? " " : "") + t.getDayOfMonth();
            case 'b', 'h' -> t.getMonth().getDisplayName(TextStyle.SHORT, Locale.ENGLISH);
            case 'B' -> t.getMonth().getDisplayName(TextStyle.FULL, Locale.ENGLISH);
            case 'm' -> two(t.getMonthValue());
            case 'y' -> two(Math.floorMod(t.getYear(), 100));
            case 'Y' -> Integer.toString(t.getYear());
            case 'C' -> two(t.getYear() / 100);
            case 'H' -> two(t.getHour());
            case 'k' -> (t.getHour() < 10 ? " " : "") + t.getHour();
            case 'I' -> two(hour12);
            case 'l' -> (hour12 < 10 ? " " : "") + hour12;
            case 'p' -> t.getHour() < 12 ? "AM" : "PM";
            case 'M' -> two(t.getMinute());
            case 'S' -> two(t.getSecond());
            case 'f' -> String.format("%06d", t.getNano() / 1000);
            case 'j' -> String.format("%03d", t.getDayOfYear());
            case 'U' -> two((t.getDayOfYear() + 6 - t.getDayOfWeek().getValue() % 7) / 7);
            case 'W' -> two((t.getDayOfYear() + 6 - (t.getDayOfWeek().getValue() + 6) % 7) / 7);
            case 'V' -> two(t.get(IsoFields.WEEK_OF_WEEK_BASED_YEAR));
            case 'G' -> Integer.toString(t.get(IsoFields.WEEK_BASED_YEAR));
            case 'z', 'Z' -> "";
            case 'c' -> format(t, "%a %b %e %H:%M:%S %Y");
            case 'x', 'D' -> format(t, "%m/%d/%y");
            case 'X', 'T' -> format(t, "%H:%M:%S");
            case 'F' -> format(t, "%Y-%m-%d");
            case 'R' -> format(t, "%H:%M");
            case 'n' -> "\n";
            case 't' -> "\t";
            case '%' -> "%";
            default -> null;
        };
    }

}
