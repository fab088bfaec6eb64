"""A Y4M video of a QR code for Chromium's fake camera (``--use-file-for-fake-video-capture``).

Y4M is a one-line text header followed by raw frames, each ``FRAME\\n`` plus the Y, U and V
planes (4:2:0: chroma at half resolution in both directions)."""
import qrcode
from PIL import Image

WIDTH, HEIGHT = 640, 480


def qr_frame(text):
    qr = qrcode.QRCode(border=4, box_size=10, error_correction=qrcode.constants.ERROR_CORRECT_M)
    qr.add_data(text)
    qr.make(fit=True)
    code = qr.make_image(fill_color="black", back_color="white").convert("RGB")
    side = min(WIDTH, HEIGHT) - 40
    code = code.resize((side, side), Image.NEAREST)
    frame = Image.new("RGB", (WIDTH, HEIGHT), "white")
    frame.paste(code, ((WIDTH - side) // 2, (HEIGHT - side) // 2))
    return frame


def write_y4m(path, image, frames=10, fps=10):
    y, u, v = image.convert("YCbCr").split()
    half = (image.width // 2, image.height // 2)
    payload = y.tobytes() + u.resize(half).tobytes() + v.resize(half).tobytes()
    with open(path, "wb") as f:
        f.write("YUV4MPEG2 W{} H{} F{}:1 Ip A1:1 C420jpeg\n".format(image.width, image.height, fps).encode())
        for _ in range(frames):
            f.write(b"FRAME\n")
            f.write(payload)
