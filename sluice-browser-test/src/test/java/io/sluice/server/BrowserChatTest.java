package io.sluice.server;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.openqa.selenium.By;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.Keys;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.support.ui.WebDriverWait;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The chat page end to end in headless Chromium (Debian's chromium + chromium-driver, which ./build
 * installs when it can): send a message, watch the answer stream in, stop it, reload and find the
 * conversation again; and model output full of HTML and script stays text. Skips loudly without Chromium.
 */
@Timeout(180)
class BrowserChatTest {
    static final Path CHROMIUM = Path.of("/usr/bin/chromium"), DRIVER = Path.of("/usr/bin/chromedriver");
    static FakeEngine engine;
    static SluiceServer server;
    static WebDriver driver;
    @TempDir
    static Path profile;

    @BeforeAll
    static void start() throws Exception {
        if (!Files.isExecutable(CHROMIUM) || !Files.isExecutable(DRIVER)) {
            String msg = "SKIPPED: browser test - " + CHROMIUM + " or " + DRIVER + " missing (Debian packages chromium and chromium-driver; "
                    + "./build installs them when run as root with apt-get); the chat page was NOT tested";
            System.err.println("\n*** " + msg + " ***\n");
            Assumptions.abort(msg);
        }
        engine = new FakeEngine(4096);
        server = SluiceServer.start(engine, ServerConfig.defaults().withPort(0).withAlias("fake-model"));
        ChromeOptions o = new ChromeOptions();
        o.setBinary(CHROMIUM.toFile());
        o.addArguments("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic", "--window-size=1200,900",
                "--user-data-dir=" + profile.toAbsolutePath());
        ChromeDriverService svc = new ChromeDriverService.Builder().usingDriverExecutable(DRIVER.toFile()).usingAnyFreePort()
                .withLogFile(new File("/dev/null")).build();
        driver = new ChromeDriver(svc, o);
        driver.manage().timeouts().scriptTimeout(Duration.ofSeconds(30));
    }

    @AfterAll
    static void stop() {
        if (driver != null) driver.quit();
        if (server != null) server.stop();
    }

    WebDriverWait await(int seconds) {
        WebDriverWait w = new WebDriverWait(driver, Duration.ofSeconds(seconds), Duration.ofMillis(50));
        w.ignoring(org.openqa.selenium.StaleElementReferenceException.class); // streaming re-renders the answer
        return w;
    }

    List<WebElement> answers() {
        return driver.findElements(By.cssSelector(".msg.assistant .content"));
    }

    /** The text of answer i, read in the page (an element handle may go stale as the answer re-renders). */
    String answer(int i) {
        Object t = ((JavascriptExecutor) driver).executeScript("const a = document.querySelectorAll('.msg.assistant .content'); return a.length > arguments[0] ? a[arguments[0]].innerText : null;", i);
        return t == null ? "" : t.toString();
    }

    void open() {
        driver.get(server.baseUrl() + "/");
        await(20).until(d -> d.findElement(By.id("status-model")).getText().equals("fake-model"));
    }

    @Test
    void sendStreamStopAndReload() {
        driver.get(server.baseUrl() + "/");
        ((JavascriptExecutor) driver).executeScript("localStorage.clear()");
        open();
        assertTrue(driver.findElement(By.id("status-context")).getText().contains("4096"), "status panel: context");
        assertTrue(driver.findElement(By.id("status-kv")).getText().contains("of 100 blocks"), "status panel: KV use");

        // A slow answer that streams: one character every 30 ms.
        engine.script = "Once upon a time there was a **brave** cat who sailed the sea. ".repeat(20);
        engine.tokenDelayMs = 30;
        WebElement input = driver.findElement(By.id("input"));
        input.sendKeys("Tell me");
        input.sendKeys(Keys.SHIFT, Keys.ENTER);
        input.sendKeys("a story");
        assertEquals("Tell me\na story", input.getDomProperty("value"), "Shift+Enter adds a line");
        input.sendKeys(Keys.ENTER);
        await(20).until(d -> answers().size() == 1 && answer(0).length() > 20);
        assertTrue(driver.findElement(By.id("stop")).isDisplayed(), "Stop shows while streaming");
        int early = answer(0).length();
        await(20).until(d -> answer(0).length() > early + 10); // it keeps growing: streaming
        await(20).until(d -> !d.findElements(By.cssSelector(".msg.assistant .content strong")).isEmpty()); // Markdown bold, once "**brave**" has closed
        driver.findElement(By.id("stop")).click();
        await(20).until(d -> driver.findElement(By.id("send")).isDisplayed());
        String stopped = answer(0);
        sleep(500);
        assertEquals(stopped, answer(0), "nothing arrives after Stop");
        assertTrue(stopped.length() < engine.script.length() / 2, "stopped early");
        assertTrue(driver.findElement(By.cssSelector(".msg.assistant .stats")).getText().contains("(stopped)"));
        await(10).until(d -> engine.cancelled.get() == 1); // the server cancelled the generation
        assertEquals("Tell me\na story", driver.findElement(By.cssSelector(".msg.user .content")).getText());

        driver.navigate().refresh();
        open();
        assertEquals(1, answers().size(), "the conversation survives a reload");
        assertEquals(stopped, answer(0));
        assertEquals("Tell me a story", driver.findElement(By.cssSelector(".conv.active .conv-title")).getText());

        // The next message carries the history; an answer that finishes shows its speed.
        engine.tokenDelayMs = 0;
        engine.script = "Short answer.";
        int before = engine.requests.size();
        input = driver.findElement(By.id("input"));
        input.sendKeys("And then?", Keys.ENTER);
        await(20).until(d -> answers().size() == 2 && answer(1).equals("Short answer."));
        await(10).until(d -> driver.findElement(By.id("status-speed")).getText().contains("tokens"));
        int[] prompt = engine.requests.get(before).promptTokens();
        String rendered = new String(toBytes(prompt), java.nio.charset.StandardCharsets.ISO_8859_1);
        assertTrue(rendered.contains("Tell me\na story") && rendered.contains("Once upon a time") && rendered.contains("And then?"), rendered);

        // New chat, then back to the first one.
        driver.findElement(By.id("new-chat")).click();
        await(5).until(d -> answers().isEmpty());
        assertEquals(2, driver.findElements(By.cssSelector(".conv")).size());
        driver.findElements(By.cssSelector(".conv .conv-title")).get(1).click();
        await(5).until(d -> answers().size() == 2);
    }

    @Test
    void modelOutputIsShownAsTextNeverRunAsHtml() {
        driver.get(server.baseUrl() + "/");
        ((JavascriptExecutor) driver).executeScript("localStorage.clear()");
        open();
        engine.tokenDelayMs = 0;
        engine.script = "<think>I should greet <b>them</b>.</think>Hi <img src=x onerror=\"window.pwned=1\"> <script>window.pwned=2</script>\n"
                + "[click](javascript:window.pwned=3) and [docs](https://example.org/x)\n\n```html\n<div onclick=\"x()\">&amp;</div>\n```\n";
        driver.findElement(By.id("input")).sendKeys("Hello", Keys.ENTER);
        await(20).until(d -> driver.findElement(By.id("send")).isDisplayed() && !answers().isEmpty()
                && driver.findElements(By.cssSelector(".msg.assistant .stats")).size() == 1);
        WebElement msg = driver.findElement(By.cssSelector(".msg.assistant"));
        assertNull(((JavascriptExecutor) driver).executeScript("return window.pwned === undefined ? null : window.pwned"));
        assertTrue(msg.findElements(By.tagName("img")).isEmpty() && msg.findElements(By.tagName("script")).isEmpty()
                && msg.findElements(By.tagName("b")).isEmpty(), "no element made from model text");
        String text = answer(0);
        assertTrue(text.contains("<img src=x onerror=\"window.pwned=1\">") && text.contains("<script>"), "shown as typed: " + text);
        for (WebElement a : msg.findElements(By.tagName("a"))) {
            assertTrue(a.getDomAttribute("href").startsWith("https://"), "only http(s) links: " + a.getDomAttribute("href"));
        }
        assertEquals(1, msg.findElements(By.tagName("a")).size());
        assertEquals("<div onclick=\"x()\">&amp;</div>", msg.findElement(By.cssSelector(".codeblock code")).getText(), "code shown verbatim");
        WebElement reasoning = msg.findElement(By.cssSelector(".reasoning"));
        reasoning.findElement(By.tagName("summary")).click();
        assertEquals("I should greet <b>them</b>.", reasoning.findElement(By.cssSelector(".reasoning-text")).getText(), "reasoning shown apart");
        assertFalse(text.contains("I should greet"), "and not in the answer");
    }

    static byte[] toBytes(int[] ids) {
        byte[] b = new byte[ids.length];
        int n = 0;
        for (int id : ids) if (id < 256) b[n++] = (byte) id;
        return java.util.Arrays.copyOf(b, n);
    }

    static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
