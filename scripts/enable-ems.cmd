@echo off
rem enable-ems.cmd - turn on Emergency Management Services (EMS) and the
rem Special Administration Console (SAC) on COM1 at 115200 baud, with the
rem boot manager menu mirrored to the serial port, so that emsagent can
rem watch the boot and drive SAC (crashdump, cmd, restart).
rem
rem Usage:
rem   enable-ems.cmd
rem       for the Windows that is running (run as Administrator).
rem   enable-ems.cmd X: {LOADER-ID}
rem       for an OS disk attached to a rescue machine as drive X:, whose
rem       BCD store is X:\boot\bcd (for a UEFI disk use the EFI system
rem       partition's \EFI\Microsoft\Boot\BCD instead: assign it a letter).
rem       LOADER-ID is the identifier of its "Windows Boot Loader" entry, as
rem       shown by:  bcdedit /store X:\boot\bcd /enum
rem
rem Notes: SAC runs on Server editions only. If kernel debugging uses the
rem same port, SAC takes no input: bcdedit /debug {current} off.
rem The change takes effect at the next boot.

setlocal
if /i "%~1"=="/?" goto usage
if /i "%~1"=="-h" goto usage
if /i "%~1"=="--help" goto usage
if "%~1"=="" goto online
if "%~2"=="" goto usage
goto offline

:online
bcdedit /ems {current} on || goto failed
bcdedit /emssettings EMSPORT:1 EMSBAUDRATE:115200 || goto failed
bcdedit /set {bootmgr} bootems yes || goto failed
bcdedit /set {bootmgr} displaybootmenu yes || goto failed
bcdedit /set {bootmgr} timeout 10 || goto failed
echo EMS/SAC enabled on COM1 at 115200 baud; restart Windows to use it.
exit /b 0

:offline
set "STORE=%~1\boot\bcd"
if not exist "%STORE%" (
	echo enable-ems: no BCD store at %STORE% 1>&2
	exit /b 2
)
bcdedit /store "%STORE%" /ems %2 on || goto failed
bcdedit /store "%STORE%" /emssettings EMSPORT:1 EMSBAUDRATE:115200 || goto failed
bcdedit /store "%STORE%" /set {bootmgr} bootems yes || goto failed
bcdedit /store "%STORE%" /set {bootmgr} displaybootmenu yes || goto failed
bcdedit /store "%STORE%" /set {bootmgr} timeout 10 || goto failed
echo EMS/SAC enabled in %STORE% for %2; detach the disk and boot the VM.
exit /b 0

:failed
echo enable-ems: bcdedit failed (run this as Administrator) 1>&2
exit /b 1

:usage
echo usage: enable-ems.cmd                 enable EMS/SAC for the running Windows
echo        enable-ems.cmd X: {LOADER-ID}  enable it on an attached OS disk X:
echo                                       (LOADER-ID from: bcdedit /store X:\boot\bcd /enum)
exit /b 2
