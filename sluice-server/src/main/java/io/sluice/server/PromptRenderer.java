package io.sluice.server;

import io.sluice.chat.ChatTemplate;
import io.sluice.template.Rendered;
import io.sluice.template.TemplateException;
import io.sluice.template.TemplateLimitException;
import io.sluice.template.TemplateRaisedException;

import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Renders chat prompts on a few platform threads rather than on the request's virtual thread: a template
 * spinning up to its time limit then occupies an OS-scheduled thread, not one of the carriers every other
 * request (/health included) runs on. The queue is bounded; past it the request gets 429.
 */
final class PromptRenderer implements AutoCloseable {
    private static final int QUEUE = 64;

    private final ThreadPoolExecutor pool;

    PromptRenderer() {
        int n = Math.max(1, Runtime.getRuntime().availableProcessors());
        AtomicInteger ids = new AtomicInteger();
        pool = new ThreadPoolExecutor(n, n, 30, TimeUnit.SECONDS, new ArrayBlockingQueue<>(QUEUE), r -> {
            Thread t = new Thread(r, "sluice-template-" + ids.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
        pool.allowCoreThreadTimeOut(true);
    }

    /**
     * The prompt text with which of its characters came from the request (see ChatTemplate.renderPrompt),
     * or an ApiException (400) that says why the template would not render it.
     */
    Rendered render(ChatTemplate template, ChatInput input, String bos, String eos) throws InterruptedException {
        Future<Rendered> f;
        try {
            f = pool.submit(() -> template.renderPrompt(input.messages(), input.options(bos, eos)));
        } catch (RejectedExecutionException e) {
            throw new ApiException(429, "rate_limit_error", "Too many chat prompts are being rendered at once; retry shortly", null, "template_queue_full");
        }
        try {
            return f.get();
        } catch (InterruptedException e) {
            f.cancel(true); // the render checks its thread's interrupt flag and stops
            throw e;
        } catch (ExecutionException e) {
            throw error(e.getCause());
        }
    }

    static RuntimeException error(Throwable t) {
        return switch (t) {
            case TemplateRaisedException r ->
                    ApiException.invalid("messages", "The model's chat template rejected these messages: " + r.reason(), "chat_template_rejected");
            case TemplateLimitException l -> ApiException.invalid("messages", "Rendering the chat template went over its " + l.limit().label()
                    + " limit: " + l.getMessage(), "chat_template_limit_exceeded");
            case TemplateException e -> ApiException.invalid("messages", "The model's chat template failed on these messages: " + e.getMessage(), "chat_template_error");
            case RuntimeException e -> e;
            default -> new IllegalStateException(t);
        };
    }

    @Override
    public void close() {
        pool.shutdownNow();
    }
}
